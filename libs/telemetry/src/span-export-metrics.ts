import type { Registry } from 'prom-client';
import { PSC_METRICS } from './metric-catalog.ts';
import { registerCounter } from './register-metric.ts';
import { SPAN_DROP_REASONS, droppedSpans, exportedSpans } from './span-export-counts.ts';

/**
 * `psc_trace_spans_dropped_total{reason}` and `psc_trace_spans_exported_total` on `registry`,
 * read from the process's span export counts at scrape time. Every reason is exported from the
 * start, at 0 while tracing is off, so the first drop is an increase, not a new series.
 */
export function registerSpanExportMetrics(registry: Registry): void {
  const dropped = PSC_METRICS.traceSpansDropped;
  registerCounter(registry, {
    name: dropped.name,
    help: dropped.help,
    labelNames: ['reason'],
    collect() {
      this.reset();
      for (const reason of SPAN_DROP_REASONS) this.inc({ reason }, droppedSpans(reason));
    },
  });
  const exported = PSC_METRICS.traceSpansExported;
  registerCounter(registry, {
    name: exported.name,
    help: exported.help,
    collect() {
      this.reset();
      this.inc(exportedSpans());
    },
  });
}
