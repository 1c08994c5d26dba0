import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ensureManagementPlugin,
  localManagementPluginDeps,
  planManagementPlugin,
  type ManagementPluginDeps,
} from '../src/management-plugin.ts';
import { externalUrls } from '../src/infra.ts';

const LOCAL = {
  amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
  managementUrl: 'http://guest:guest@127.0.0.1:15672',
};

/** A broker whose plugin is off until `enable` runs (the CLI and broker are not ours to drive). */
function brokerWithPluginOff(overrides: Partial<ManagementPluginDeps> = {}) {
  let on = false;
  const calls: string[] = [];
  const said: string[] = [];
  const deps: ManagementPluginDeps = {
    ...LOCAL,
    answers: () => Promise.resolve(on),
    cliFound: () => Promise.resolve(true),
    enable: () => {
      calls.push('enable');
      on = true;
      return Promise.resolve();
    },
    say: (line) => said.push(line),
    timeoutMs: 2_000,
    ...overrides,
  };
  return { deps, calls, said };
}

describe('npm test and RabbitMQ’s management plugin', () => {
  it('when the management API answers, then nothing is enabled and nothing is said', async () => {
    const { deps, calls, said } = brokerWithPluginOff({ answers: () => Promise.resolve(true) });
    assert.deepEqual(await ensureManagementPlugin(deps), { action: 'ready' });
    assert.deepEqual(calls, []);
    assert.deepEqual(said, []);
  });

  it('when a local broker has the plugin off, then it is enabled, the API is awaited, and one line says so', async () => {
    const { deps, calls, said } = brokerWithPluginOff();
    assert.deepEqual(await ensureManagementPlugin(deps), { action: 'enable' });
    assert.deepEqual(calls, ['enable']);
    assert.equal(said.length, 1);
    assert.match(
      said[0]!,
      /enabled RabbitMQ's management plugin .*rabbitmq-plugins enable rabbitmq_management/,
    );
  });

  it('when the broker is on another machine, then it fails at once with the one-line fix and enables nothing', async () => {
    const { deps, calls } = brokerWithPluginOff({
      amqpUrl: 'amqp://guest:secret@rabbit.internal:5672',
      managementUrl: 'http://guest:secret@rabbit.internal:15672',
    });
    await assert.rejects(ensureManagementPlugin(deps), (err: Error) => {
      assert.equal(err.message.split('\n').length, 1);
      assert.match(
        err.message,
        /not on this machine: run `sudo rabbitmq-plugins enable rabbitmq_management`/,
      );
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    assert.deepEqual(calls, []);
  });

  it('when rabbitmq-plugins is not on PATH, then it fails with the fix instead of trying', () => {
    const plan = planManagementPlugin({ ...LOCAL, answers: false, cliFound: false });
    assert.equal(plan.action, 'fail');
    assert.match(
      (plan as { message: string }).message,
      /rabbitmq-plugins is not on PATH: run `sudo rabbitmq-plugins enable rabbitmq_management`/,
    );
  });

  it('when enabling is refused (no permission), then it fails with the command’s own first line and the fix', async () => {
    const { deps } = brokerWithPluginOff({
      enable: () =>
        Promise.reject(new Error('Error: could not read the Erlang cookie\nmore detail')),
    });
    await assert.rejects(
      ensureManagementPlugin(deps),
      /^Error: could not enable RabbitMQ's management plugin here \(Error: could not read the Erlang cookie\): run `sudo rabbitmq-plugins enable rabbitmq_management`/,
    );
  });

  it('when the plugin is on but the API never answers, then it fails naming the API instead of hanging', async () => {
    const { deps } = brokerWithPluginOff({
      enable: () => Promise.resolve(),
      timeoutMs: 300,
    });
    await assert.rejects(
      ensureManagementPlugin(deps),
      /management API at http:\/\/guest:\*\*\*@127\.0\.0\.1:15672/,
    );
  });

  it('when this machine’s broker runs with the plugin on, then the real check finds it ready without enabling anything', async () => {
    const { amqpUrl, managementUrl } = externalUrls();
    const real = localManagementPluginDeps(amqpUrl, managementUrl);
    const calls: string[] = [];
    const plan = await ensureManagementPlugin({
      ...real,
      enable: () => {
        calls.push('enable');
        return Promise.reject(new Error('must not be called'));
      },
    });
    assert.deepEqual(plan, { action: 'ready' });
    assert.deepEqual(calls, []);
  });
});
