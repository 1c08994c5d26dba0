/**
 * How many of this process's spans reached the trace collector, and how many were lost on the
 * way: the bridge between the SDK that `register.ts` starts before the service's code and the
 * service's `/metrics` (`psc_trace_spans_*`, read at scrape time). Module state, as in
 * sdk-state.ts: one SDK per process. Only counters: the SDK's side adds, scrapes read.
 */

/** Why spans never reached the collector: the export queue was full, or their export failed. */
export const SPAN_DROP_REASONS = ['queue_full', 'export_failed'] as const;
/** One of {@link SPAN_DROP_REASONS}. */
export type SpanDropReason = (typeof SPAN_DROP_REASONS)[number];

const dropped: Record<SpanDropReason, number> = { queue_full: 0, export_failed: 0 };
let exported = 0;

export function countDroppedSpans(reason: SpanDropReason, count: number): void {
  dropped[reason] += count;
}

export function countExportedSpans(count: number): void {
  exported += count;
}

/** Spans dropped for `reason` since the process started; 0 while tracing is off. */
export function droppedSpans(reason: SpanDropReason): number {
  return dropped[reason];
}

/** Spans the collector accepted since the process started; 0 while tracing is off. */
export function exportedSpans(): number {
  return exported;
}
