import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, context, propagation, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { HEADERS, jobSucceeded } from '@psc/contracts';
import type { OutboxMessage } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { jobOutcome, outboxDatabase, startOutbox, subscribeEvents } from './support/outbox.ts';

/*
 * The outbox as a traced service runs it: the SDK's W3C propagator and async context are
 * registered for this file's process (not exported anywhere: no span is recorded, contexts only).
 */
const SCHEMA = 'conformance_traces';
const QUEUE = 'conformance.outbox-traces';

const hex = (n: number, length: number) => n.toString(16).padStart(length, '0');
const traceIdOf = (n: number) => `${'a'.repeat(24)}${hex(n, 8)}`;
/** A context whose active span is span `n` of trace `traceN`, as a request or a job gives. */
const spanContext = (traceN: number, n: number): Context =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceIdOf(traceN),
    spanId: `${'b'.repeat(8)}${hex(n, 8)}`,
    traceFlags: 1,
  });

describe('outbox trace contexts', { timeout: 60_000 }, () => {
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  after(() => {
    propagation.disable();
    context.disable();
  });

  it('when job outcomes of several traces go as one bundle, then the bundle names each one’s own context in order, one written for another trace’s job names that job’s trace, and one given a span of its job’s trace goes under that span', async (t) => {
    const fx = await createFixture(t);
    const knex = await outboxDatabase(fx, SCHEMA);
    const seen = await subscribeEvents(fx, QUEUE, jobSucceeded.type);
    // A window far longer than the test's writes take, even under the full suite's load (5 s
    // was once too short): the six later outcomes go as one bundle, about 15 s after the first.
    const outbox = startOutbox(fx, knex, await fx.broker(), SCHEMA, { bundleMs: 15_000 });

    const emitIn = (ctx: Context, message: OutboxMessage) =>
      context.with(ctx, () => outbox.emit([message]));

    await emitIn(spanContext(9, 9), jobOutcome());
    await waitFor(() => seen.length === 1, { message: 'the first outcome published alone' });
    // A job's own span; a batch (trace 7) writing for itself and for jobs 3 and 4 of other
    // traces; a tick, with no span at all, writing for job 5; the batch again, for job 6 under
    // the span it recorded in job 6's trace (startSpanInTrace).
    await emitIn(spanContext(1, 1), jobOutcome());
    await emitIn(spanContext(7, 7), jobOutcome(traceIdOf(7)));
    await emitIn(spanContext(7, 7), jobOutcome(traceIdOf(3)));
    await emitIn(spanContext(7, 7), jobOutcome(traceIdOf(4)));
    await emitIn(ROOT_CONTEXT, jobOutcome(traceIdOf(5)));
    await emitIn(spanContext(7, 7), {
      ...jobOutcome(traceIdOf(6)),
      traceParent: `00-${traceIdOf(6)}-cccccccc00000006-01`,
    });
    await waitFor(() => seen.length === 2, { message: 'the bundle published', timeoutMs: 30_000 });

    const bundle = seen[1]!;
    assert.equal(bundle.properties.headers?.[HEADERS.bundle], 6);
    const header = bundle.properties.headers?.[HEADERS.bundleTraces] as unknown[];
    const parents = header.map((item) => {
      const carrier = JSON.parse(String(item)) as { traceparent: string };
      const [, traceId, spanId, flags] = carrier.traceparent.split('-');
      return { traceId, spanId, flags };
    });
    assert.deepEqual(
      parents.map((p) => p.traceId),
      [1, 7, 3, 4, 5, 6].map(traceIdOf),
    );
    // A writer of the same trace keeps its own span as the parent; the others get one of their
    // trace, never the writer's.
    assert.equal(parents[0]!.spanId, 'bbbbbbbb00000001');
    assert.equal(parents[1]!.spanId, 'bbbbbbbb00000007');
    for (const p of parents.slice(2, 5)) {
      assert.match(p.spanId ?? '', /^[0-9a-f]{16}$/);
      assert.notEqual(p.spanId, 'bbbbbbbb00000007');
    }
    assert.equal(parents[5]!.spanId, 'cccccccc00000006');
    assert.ok(parents.every((p) => p.flags === '01'));
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
  });
});
