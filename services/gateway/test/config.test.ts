import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('gateway config', () => {
  it('when AMQP_URL has the amqp:// scheme but is no URL, then the gateway exits 1 with one line naming it', () => {
    // Config fails before anything connects; the timeout kills the child should it not.
    const run = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env['PATH'] ?? '', AMQP_URL: 'amqp://[' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr, 'gateway: invalid configuration: AMQP_URL: must be a valid URL\n');
  });

  it('when HTTP_PORT is set but empty, then the gateway takes its default port, not a random one', () => {
    assert.equal(loadConfig({ HTTP_PORT: '' }).http.port, 8080);
  });
});
