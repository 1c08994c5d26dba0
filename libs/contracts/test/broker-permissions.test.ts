import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EXCHANGES,
  EXCHANGE_SPECS,
  RETIRED_EXCHANGES,
  QUEUES,
  QUEUE_SPECS,
  RPC_OPERATIONS,
  SERVICES,
  brokerPermissions,
  rpcRoutingKey,
  type QueueSpec,
} from '../src/index.ts';

const topicWrite = (service: (typeof SERVICES)[number], exchange: string): RegExp | undefined => {
  const entry = brokerPermissions(service).topics.find((t) => t.exchange === exchange);
  return entry ? new RegExp(entry.write) : undefined;
};
const writes = (service: (typeof SERVICES)[number], exchange: string) =>
  new RegExp(brokerPermissions(service).write).test(exchange);

describe('broker permissions', () => {
  it('when a service sends an operation, then its login may exactly if the operation names it a caller', () => {
    assert.ok(RPC_OPERATIONS.length > 40, 'every operation of the contracts is known');
    for (const service of SERVICES) {
      const calls = topicWrite(service, EXCHANGES.calls);
      for (const op of RPC_OPERATIONS) {
        const may = (op.callers as readonly string[]).includes(service);
        // No topic entry means no write on the exchange at all (RabbitMQ would let an
        // exchange without an entry take any key).
        assert.equal(
          calls?.test(rpcRoutingKey(op)) ?? false,
          may,
          `${service} → ${rpcRoutingKey(op)}`,
        );
      }
      assert.equal(writes(service, EXCHANGES.calls), calls !== undefined, service);
    }
  });

  it('then no login may publish to the default exchange, and each routes through psc.retry only to its own queues', () => {
    const specs = Object.values(QUEUE_SPECS as Record<string, QueueSpec>);
    for (const service of SERVICES) {
      assert.equal(writes(service, 'amq.default'), false, service);
      const retry = topicWrite(service, EXCHANGES.retry);
      for (const spec of specs.filter((q) => q.failures !== 'none' && q.consumer !== null)) {
        const name = spec.perReplica ? `${spec.name}.replica-1` : spec.name;
        const own = spec.consumer === service;
        assert.equal(retry?.test(name) ?? false, own, `${service} → ${name}`);
        if (spec.failures === 'retries')
          assert.equal(retry?.test(QUEUES.retry(name, 5_000)) ?? false, own, `${service} delay`);
      }
    }
  });

  it('then every topic exchange a login may publish to holds it to its keys, and no login may write to a retired exchange', () => {
    // RabbitMQ lets a publish through a topic exchange for which the user has no topic entry.
    for (const service of SERVICES) {
      const { topics } = brokerPermissions(service);
      for (const exchange of EXCHANGE_SPECS.filter((e) => e.type === 'topic'))
        if (writes(service, exchange.name))
          assert.ok(
            topics.some((t) => t.exchange === exchange.name),
            `${service} ${exchange.name}`,
          );
      for (const retired of Object.values(RETIRED_EXCHANGES))
        assert.equal(writes(service, retired), false, `${service} ${retired}`);
    }
    // Only the scheduler sends job.run, only the collector fan-out children.
    const jobs = (service: (typeof SERVICES)[number]) => topicWrite(service, EXCHANGES.jobs);
    assert.ok(jobs('scheduler')?.test('sync') && !jobs('scheduler')?.test('collect.child'));
    assert.ok(jobs('collector')?.test('collect.child') && !jobs('collector')?.test('sync'));
  });

  it('then only the services answering requests may publish replies', () => {
    const answering = new Set(
      Object.values(QUEUE_SPECS as Record<string, QueueSpec>)
        .filter((q) => q.bindings.some((b) => b.exchange === EXCHANGES.calls))
        .map((q) => q.consumer),
    );
    for (const service of SERVICES)
      assert.equal(writes(service, EXCHANGES.replies), answering.has(service), service);
  });
});
