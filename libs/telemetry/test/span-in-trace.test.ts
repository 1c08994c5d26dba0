import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startOtlpReceiver, waitFor, type OtlpReceiver } from '@psc/testing';
import { startSpanInTrace } from '../src/index.ts';
import { runFixture } from './support/run-fixture.ts';

describe('spans in a job’s trace', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(() => receiver?.stop());

  it('when a span is started as the root of a chosen trace or under another process’s span, then it is recorded there, linked to the active span, and its traceparent names it', async () => {
    const rootTraceId = randomBytes(16).toString('hex');
    const parentTraceId = randomBytes(16).toString('hex');
    const parentSpanId = randomBytes(8).toString('hex');
    const { code, stdout, stderr } = await runFixture(
      new URL('./fixtures/spans-in-trace.ts', import.meta.url),
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'span-in-trace' },
      [rootTraceId, `00-${parentTraceId}-${parentSpanId}-01`],
    );
    assert.equal(code, 0, stderr);
    const sent = JSON.parse(stdout) as { root: string; child: string };
    const spans = await waitFor(() => (receiver.spans().length >= 3 ? receiver.spans() : null), {
      timeoutMs: 10_000,
      message: 'three spans exported',
    });
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const batch = byName('fixture.batch');
    const root = byName('fixture.root');
    const child = byName('fixture.child');

    assert.equal(root.traceId, rootTraceId);
    assert.equal(root.parentSpanId, undefined, 'a root: no parent, recorded or not');
    assert.equal(root.attributes['psc.job.id'], 'j1');
    assert.equal(sent.root, `00-${rootTraceId}-${root.spanId}-01`);

    assert.equal(child.traceId, parentTraceId);
    assert.equal(child.parentSpanId, parentSpanId);
    assert.equal(child.statusCode, 2, 'ended with an error');
    assert.equal(sent.child, `00-${parentTraceId}-${child.spanId}-01`);

    for (const span of [root, child]) {
      assert.deepEqual(span.links, [{ traceId: batch.traceId, spanId: batch.spanId }]);
    }
    assert.notEqual(batch.traceId, rootTraceId, 'only the root pinned its trace id');
  });

  it('when tracing is off, then no span is made and there is no traceparent to send', () => {
    const span = startSpanInTrace('off', { traceId: randomBytes(16).toString('hex') });
    assert.equal(span.traceparent, undefined);
    span.end(new Error('ignored'));
  });
});
