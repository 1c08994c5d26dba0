import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, registerCounter } from '../src/index.ts';

/** Value of the sample `name` whose label set is exactly `labels` (order-insensitive). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [
        m[1] ?? '',
        m[2] ?? '',
      ]),
    );
    const same =
      Object.keys(found).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => found[k] === v);
    if (same) return Number(match[3]);
  }
  return undefined;
}

describe('createMetrics', () => {
  it('when created, then default Node metrics are prefixed psc_ and labelled with the service', async () => {
    const metrics = createMetrics({ service: 'svc-a' });
    const text = await metrics.registry.metrics();
    assert.match(text, /^psc_process_cpu_user_seconds_total\{service="svc-a"\} /m);
    assert.match(text, /^psc_nodejs_heap_size_used_bytes\{service="svc-a"\} /m);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0);
  });

  it('when created in a process without tracing, then the span export counters are exported at 0, every drop reason included', async () => {
    const text = await createMetrics({ service: 'svc-a' }).registry.metrics();
    assert.match(text, /^# TYPE psc_trace_spans_dropped_total counter$/m);
    for (const reason of ['queue_full', 'export_failed']) {
      assert.equal(sample(text, 'psc_trace_spans_dropped_total', { service: 'svc-a', reason }), 0);
    }
    assert.equal(sample(text, 'psc_trace_spans_exported_total', { service: 'svc-a' }), 0);
  });

  it('when two services share a process, then their registries are independent', async () => {
    const a = createMetrics({ service: 'svc-a' });
    const b = createMetrics({ service: 'svc-b' });
    a.counter({ name: 'psc_jobs_total', help: 'jobs', labelNames: ['outcome'] as const }).inc({
      outcome: 'ok',
    });
    const text = await a.registry.metrics();
    assert.equal(sample(text, 'psc_jobs_total', { service: 'svc-a', outcome: 'ok' }), 1);
    assert.doesNotMatch(await b.registry.metrics(), /psc_jobs_total/);
  });

  it('when a metric is asked for twice, then the same instance comes back', async () => {
    const metrics = createMetrics({ service: 'svc-a' });
    const first = metrics.counter({ name: 'psc_syncs_total', help: 'syncs' });
    const second = registerCounter(metrics.registry, { name: 'psc_syncs_total', help: 'syncs' });
    assert.equal(first, second);
    second.inc(2);
    const histogram = metrics.histogram({ name: 'psc_sync_seconds', help: 's', buckets: [1] });
    histogram.observe(0.5);
    metrics.gauge({ name: 'psc_queue_depth', help: 'd' }).set(3);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'psc_syncs_total', { service: 'svc-a' }), 2);
    assert.equal(sample(text, 'psc_sync_seconds_bucket', { le: '1', service: 'svc-a' }), 1);
    assert.equal(sample(text, 'psc_queue_depth', { service: 'svc-a' }), 3);
  });
});
