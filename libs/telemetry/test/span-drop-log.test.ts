import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { createSpanDropLog } from '../src/span-drop-log.ts';

interface Written {
  at: number;
  line: Record<string, unknown>;
}

function capture(intervalMs: number) {
  const written: Written[] = [];
  const log = createSpanDropLog({
    service: 'svc-a',
    maxQueueSize: 100,
    intervalMs,
    write: (text) => {
      assert.ok(text.endsWith('\n'), 'one line');
      written.push({ at: performance.now(), line: JSON.parse(text) as Record<string, unknown> });
    },
  });
  return { log, written };
}

describe('createSpanDropLog', () => {
  it('when spans keep being dropped, then each reason gets at most one line per interval, counting the spans since its last line', async () => {
    const { log, written } = capture(200);
    log.dropped('queue_full', 3);
    log.dropped('queue_full', 2);
    log.dropped('export_failed', 512, new Error('connect ECONNREFUSED http://u:pw@otel:4318'));
    const first = await waitFor(() => (written.length === 2 ? [...written] : undefined), {
      timeoutMs: 2_000,
      intervalMs: 5,
    });
    const queueFull = first.find((w) => w.line['reason'] === 'queue_full');
    const exportFailed = first.find((w) => w.line['reason'] === 'export_failed');
    assert.deepEqual(
      { ...queueFull?.line, time: undefined, hint: undefined },
      {
        level: 'warn',
        time: undefined,
        service: 'svc-a',
        reason: 'queue_full',
        dropped: 5,
        maxQueueSize: 100,
        hint: undefined,
        msg: 'trace spans dropped',
      },
    );
    assert.equal(exportFailed?.line['dropped'], 512);
    assert.equal(exportFailed?.line['err'], 'connect ECONNREFUSED http://***@otel:4318');

    log.dropped('queue_full', 4);
    log.dropped('queue_full', 1);
    const second = await waitFor(() => written[2], { timeoutMs: 2_000, intervalMs: 5 });
    assert.equal(second.line['reason'], 'queue_full');
    assert.equal(second.line['dropped'], 5);
    // Timers may fire a millisecond early by the clock; a line per drop would come at once.
    assert.ok(second.at - queueFull!.at >= 190, `${second.at - queueFull!.at} ms apart`);
    assert.equal(written.length, 3);
  });

  it('when the process exits with drops not yet written, then flush writes them at once, and nothing twice', () => {
    const { log, written } = capture(60_000);
    log.dropped('export_failed', 7, new Error('Export failed with retryable status'));
    assert.equal(written.length, 0, 'written on a later turn, not while the span ends');
    log.flush();
    assert.equal(written.length, 1);
    assert.equal(written[0]?.line['dropped'], 7);
    log.flush();
    assert.equal(written.length, 1);
  });
});
