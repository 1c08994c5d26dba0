import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Channel, ConsumeMessage } from 'amqplib';
import { describe, it } from 'node:test';
import { EXCHANGES, QUEUES } from '@psc/contracts';
import { AppError, NotFoundError } from '@psc/core';
import {
  createManagementApi,
  createRpcClient,
  createRpcServer,
  managementPath,
  rpcHandler,
  type Broker,
  type RpcClient,
  type RpcHandler,
  type RpcServer,
} from '@psc/messaging';
import { startInfra, waitFor } from '@psc/testing';
import { createFixture, type Fixture } from './support/fixture.ts';
import { echo, looseEcho, unknownOperation } from './support/messages.ts';

const RPC_QUEUE = QUEUES.rpc(echo.service);

async function serve(fx: Fixture, broker: Broker, handlers: RpcHandler[]): Promise<RpcServer> {
  const server = createRpcServer({ broker, service: echo.service, handlers, logger: fx.logger });
  fx.defer(() => server.stop());
  await server.start();
  return server;
}

function client(fx: Fixture, broker: Broker): RpcClient<'test'> {
  const rpc = createRpcClient({ broker, appId: 'conformance-caller', timeoutMs: 5_000 });
  fx.defer(() => rpc.close());
  return rpc;
}

const echoHandler = rpcHandler(echo, ({ text }) => Promise.resolve({ text, length: text.length }));

/** Runs `call` and returns what it rejected with, failing if it resolved. */
async function rejection(call: Promise<unknown>): Promise<AppError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('the call resolved');
}

describe('rpc', { concurrency: true, timeout: 30_000 }, () => {
  it('when a server answers, then the caller gets the typed reply', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    await serve(fx, broker, [echoHandler]);

    const reply = await client(fx, broker).call(echo, { text: 'hello' });

    assert.deepEqual(reply, { text: 'hello', length: 5 });
  });

  it('when the request fails the server’s request schema, then the caller gets a 422 validation_failed', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    let handled = 0;
    await serve(fx, broker, [
      rpcHandler(echo, ({ text }) => {
        handled += 1;
        return Promise.resolve({ text, length: text.length });
      }),
    ]);

    // An out-of-date caller whose contract still allowed any `text`.
    const err = await rejection(client(fx, broker).call(looseEcho, { text: 42 }));

    assert.equal(err.status, 422);
    assert.equal(err.code, 'validation_failed');
    const details = err.details as { path: string; message: string }[];
    assert.deepEqual(
      details.map((d) => d.path),
      ['text'],
    );
    assert.match(err.message, /^text: /);
    assert.equal(handled, 0, 'the handler never ran');
  });

  it('when the handler throws NotFoundError, then the caller gets an AppError with status 404', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    await serve(fx, broker, [
      rpcHandler(echo, () =>
        Promise.reject(new NotFoundError('platform p-1 does not exist', { id: 'p-1' })),
      ),
    ]);

    const err = await rejection(client(fx, broker).call(echo, { text: 'p-1' }));

    assert.equal(err.status, 404);
    assert.equal(err.code, 'not_found');
    assert.equal(err.message, 'platform p-1 does not exist');
    assert.deepEqual(err.details, { id: 'p-1' });
  });

  it('when the operation is not served, then the caller gets a 404', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    await serve(fx, broker, [echoHandler]);

    const err = await rejection(client(fx, broker).call(unknownOperation, {}));

    assert.equal(err.status, 404);
    assert.equal(err.code, 'not_found');
    assert.match(err.message, /conformance\.not-served/);
  });

  it('when no server is listening, then the call rejects fast with 503', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    const rpc = client(fx, broker);
    const started = performance.now();

    const err = await rejection(rpc.call(echo, { text: 'anyone?' }, { timeoutMs: 5_000 }));

    const elapsed = performance.now() - started;
    assert.equal(err.status, 503);
    assert.ok(
      elapsed < 2_000,
      `took ${Math.round(elapsed)} ms; a missing server must not wait out the timeout`,
    );
    const raw = await fx.raw();
    await assert.rejects(raw.inspect(RPC_QUEUE), /NOT_FOUND/, 'there really is no rpc queue');
  });

  it('when the broker refuses the request (the server’s queue full with reject-publish), then the call rejects at once with 503 saying so, not a timeout, and calls are answered again once it takes them', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    await serve(fx, broker, [echoHandler]);
    const rpc = client(fx, broker);
    const api = createManagementApi((await startInfra()).managementUrl);
    const policy = managementPath('policies', fx.env.vhost, 'refuse-rpc');
    await api.put(policy, {
      pattern: `^${RPC_QUEUE}$`,
      definition: { 'max-length': 0, overflow: 'reject-publish' },
      'apply-to': 'queues',
      priority: 10,
    });
    await waitFor(
      async () =>
        (await api.get<{ policy?: string }>(managementPath('queues', fx.env.vhost, RPC_QUEUE)))
          .policy === 'refuse-rpc',
      { message: 'the policy in effect' },
    );
    const started = performance.now();

    const err = await rejection(rpc.call(echo, { text: 'refused' }, { timeoutMs: 5_000 }));

    const elapsed = performance.now() - started;
    assert.equal(err.status, 503);
    assert.match(err.message, /RabbitMQ refused the request/);
    assert.ok(
      elapsed < 2_000,
      `took ${Math.round(elapsed)} ms; a refusal must not wait out the timeout`,
    );
    await api.delete(policy);
    await waitFor(
      async () =>
        rpc.call(echo, { text: 'again' }).then(
          (reply) => reply.text === 'again',
          () => false,
        ),
      { message: 'answered again once the broker takes requests' },
    );
  });

  it('when the server never answers, then the call rejects with a 504 TimeoutError after its timeout', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    await serve(fx, broker, [
      rpcHandler(echo, async ({ text }) => {
        if (text === 'slow') {
          started += 1;
          await gate;
        }
        return { text, length: text.length };
      }),
    ]);
    fx.defer(() => release()); // runs before the server's stop, which waits for the handler
    const rpc = client(fx, broker);
    // A call answered first shows the server consuming: on a loaded machine a consumer just
    // started can take longer than the timeout to get its first delivery, and the request
    // would then expire in the queue, which is the next test's case, not this one's.
    assert.deepEqual(await rpc.call(echo, { text: 'warm' }), { text: 'warm', length: 4 });
    const begin = performance.now();

    const err = await rejection(rpc.call(echo, { text: 'slow' }, { timeoutMs: 600 }));

    const elapsed = performance.now() - begin;
    assert.equal(err.status, 504);
    assert.equal(err.code, 'timeout');
    assert.ok(elapsed >= 580, `gave up after ${Math.round(elapsed)} ms, before the 600 ms timeout`);
    assert.ok(elapsed < 3_000, `took ${Math.round(elapsed)} ms`);
    assert.equal(started, 1, 'the server did receive the request');
    // A late answer to an abandoned call is dropped; the client keeps working.
    release();
    assert.deepEqual(await rpc.call(echo, { text: 'next' }), { text: 'next', length: 4 });
  });

  it('when a request waits past its timeout, then it expires from the queue unanswered', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    const raw = await fx.raw();
    // A queue nobody consumes from: the request is routed but never taken.
    await raw.channel.assertExchange(EXCHANGES.calls, 'topic', { durable: true });
    await raw.channel.assertQueue(RPC_QUEUE, { durable: false, autoDelete: false });
    await raw.channel.bindQueue(RPC_QUEUE, EXCHANGES.calls, `${echo.service}.#`);

    const err = await rejection(client(fx, broker).call(echo, { text: 'x' }, { timeoutMs: 300 }));

    assert.equal(err.status, 504);
    await waitFor(async () => (await raw.inspect(RPC_QUEUE)).messageCount === 0, {
      timeoutMs: 3_000,
      message: 'the abandoned request to expire',
    });
  });

  it('when the handler throws an unexpected Error, then the caller gets 500 internal error without its message', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    await serve(fx, broker, [
      rpcHandler(echo, () =>
        Promise.reject(new Error('connect ECONNREFUSED db.internal:5432 password=hunter2')),
      ),
    ]);

    const err = await rejection(client(fx, broker).call(echo, { text: 'boom' }));

    assert.equal(err.status, 500);
    assert.equal(err.code, 'internal');
    assert.equal(err.message, 'internal error');
    assert.equal(err.details, undefined);
    assert.doesNotMatch(JSON.stringify({ ...err, message: err.message }), /hunter2|db\.internal/);
  });

  it('when the last server stops, then its queue goes and calls reject fast with 503 again', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    const server = await serve(fx, broker, [echoHandler]);
    const rpc = client(fx, broker);
    assert.deepEqual(await rpc.call(echo, { text: 'up' }), { text: 'up', length: 2 });

    await server.stop();
    const started = performance.now();
    const err = await rejection(rpc.call(echo, { text: 'down' }, { timeoutMs: 5_000 }));

    assert.equal(err.status, 503);
    assert.ok(performance.now() - started < 2_000, 'rejected without waiting out the timeout');
  });

  it('when the server answers outside the response contract, then the caller gets a 502 AppError, not a validation error', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    // A server still on a contract without `length`.
    await serve(fx, broker, [rpcHandler(looseEcho, ({ text }) => Promise.resolve({ text }))]);

    const err = await rejection(client(fx, broker).call(echo, { text: 'hi' }));

    // A ZodError here would reach the gateway's error middleware as "422 validation_failed",
    // blaming the HTTP caller for the server's broken reply.
    assert.equal(err.status, 502);
    assert.notEqual(err.code, 'validation_failed');
  });

  it('when the broker closes the caller’s and the server’s channels with the connection up (406), then both are reopened and calls are answered again within 5 s', async (t) => {
    const fx = await createFixture(t);
    const broker = await fx.broker();
    // The channels by name, so the test can make RabbitMQ close the live ones.
    const opened = new Map<string, Channel[]>();
    const watched: Broker = {
      ...broker,
      createChannel: (name, setup, options) =>
        broker.createChannel(
          name,
          (ch) => {
            opened.set(name, [...(opened.get(name) ?? []), ch]);
            return setup(ch);
          },
          options,
        ),
    };
    const server = await serve(fx, watched, [echoHandler]);
    const rpc = client(fx, watched);
    assert.deepEqual(await rpc.call(echo, { text: 'before' }), { text: 'before', length: 6 });
    const live = ['conformance-caller.rpc-client', `${echo.service}.rpc-server`].map(
      (name) => opened.get(name)![0]!,
    );

    // An ack of a delivery tag a channel never issued: RabbitMQ closes that channel with 406.
    const closedAt = performance.now();
    const closed = live.map((ch) => new Promise((resolve) => ch.once('close', resolve)));
    for (const ch of live) ch.ack({ fields: { deliveryTag: 2 ** 40 } } as ConsumeMessage);
    await Promise.all(closed);
    assert.equal(server.isConsuming(), false);
    // A call before the server's queue is declared again is refused (503): callers retry.
    const reply = await waitFor(() => rpc.call(echo, { text: 'after' }, { timeoutMs: 1_000 }), {
      timeoutMs: 10_000,
      message: 'a call answered again',
    });
    const backMs = performance.now() - closedAt;

    assert.deepEqual(reply, { text: 'after', length: 5 });
    assert.ok(server.isConsuming());
    assert.equal(opened.get('conformance-caller.rpc-client')?.length, 2, 'the caller’s reopened');
    assert.ok(backMs < 5_000, `answered again after ${Math.round(backMs)} ms`);
  });
});
