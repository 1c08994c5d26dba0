import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { spawnService, type SpawnServiceOptions } from '../src/index.ts';

const entry = fileURLToPath(new URL('./fixtures/line-printer.ts', import.meta.url));

function spawnPrinter(
  t: TestContext,
  env: Record<string, string>,
  extra: Partial<SpawnServiceOptions> = {},
) {
  const service = spawnService({ name: 'printer', entry, env, nodeArgs: [], ...extra });
  t.after(() => service.stop());
  return service;
}

describe('spawnService', { timeout: 60_000 }, () => {
  it('when started, then passes env, keeps PATH only, and captures lines', async (t) => {
    const service = spawnPrinter(t, { GREETING: 'hello' });

    await service.waitForLine(/^ready$/);

    assert.ok(typeof service.pid === 'number');
    assert.deepEqual(service.lines(), ['greeting=hello', 'leaked=none', 'ready']);
    assert.equal(
      await service.waitForLine((line) => line.startsWith('greeting=')),
      'greeting=hello',
    );
  });

  it('when stopped, then SIGTERM lets it finish and exited reports the code', async (t) => {
    const service = spawnPrinter(t, {});
    await service.waitForLine(/ready/);

    const exit = await service.stop();

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(await service.exited, exit);
    assert.equal(service.lines().at(-1), 'stopping');
    assert.equal(service.kill(), false, 'an exited process cannot be signalled');
  });

  it('when SIGTERM is ignored, then stop escalates to SIGKILL', async (t) => {
    const service = spawnPrinter(t, { MODE: 'ignore-sigterm' }, { stopTimeoutMs: 300 });
    await service.waitForLine(/ready/);

    const exit = await service.stop();

    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
    assert.ok(service.lines().includes('ignoring SIGTERM'));
  });

  it('when it exits before the awaited line, then waitForLine rejects with the tail', async (t) => {
    const service = spawnPrinter(t, { MODE: 'exit-early' });

    await assert.rejects(service.waitForLine(/ready/), (err: Error) => {
      assert.match(
        err.message,
        /printer exited \(code 3, signal null\) before a line matching \/ready\//,
      );
      assert.match(err.message, /fatal: config missing/);
      return true;
    });
  });

  it('when the line never comes, then waitForLine times out', async (t) => {
    const service = spawnPrinter(t, {});
    await service.waitForLine(/ready/);

    await assert.rejects(
      service.waitForLine(/never printed/, 100),
      /no line matching \/never printed\/ within 100 ms/,
    );
  });
});
