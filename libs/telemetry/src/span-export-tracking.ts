import {
  createNoopMeter,
  type Counter,
  type Meter,
  type MeterProvider,
  type MetricAttributes,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { SpanDropReason } from './span-export-counts.ts';

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];

/** `ExportResultCode.SUCCESS` of @opentelemetry/core (not a dependency of ours; a stable enum). */
const EXPORT_SUCCESS = 0 as ExportResult['code'];

/** What the tracking tells: spans exported, or dropped for a reason (with the export's error). */
export interface SpanExportListener {
  exported(count: number): void;
  dropped(reason: SpanDropReason, count: number, err?: unknown): void;
}

/**
 * Wraps the OTLP exporter to count each batch by its result. The batch processor hands every
 * batch it exports, at its pace or in a flush, to this exporter and never retries one: a batch
 * whose result is a failure (after the OTLP exporter's own retries, or refused at its concurrency
 * limit) is lost, span for span.
 */
export class CountingSpanExporter implements SpanExporter {
  private readonly inner: SpanExporter;
  private readonly listener: SpanExportListener;

  constructor(inner: SpanExporter, listener: SpanExportListener) {
    this.inner = inner;
    this.listener = listener;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === EXPORT_SUCCESS) this.listener.exported(spans.length);
      else this.listener.dropped('export_failed', spans.length, result.error);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** The SDK's self-observability counter of spans a processor finished with, and its reason label. */
const SPANS_PROCESSED = 'otel.sdk.processor.span.processed';
const ERROR_TYPE = 'error.type';

/** What {@link queueFullMeterProvider} returns: the provider, and whether the SDK used it. */
export interface QueueFullMeter {
  provider: MeterProvider;
  /** False when the batch processor never asked for its counter: queue_full would stay 0. */
  wired(): boolean;
}

/**
 * A meter provider for the batch processor's `selfObsMeterProvider` option that reports the
 * spans the processor turns away because its queue is full, and nothing else (every other
 * instrument is a no-op).
 *
 * Exact by construction: the batch processor (sdk-trace 3.1 BatchSpanProcessorBase._addToBuffer)
 * adds 1 to `otel.sdk.processor.span.processed{error.type="queue_full"}` in the one place it
 * drops a span, at the moment it drops it. The alternatives are not exact: a processor in front
 * counting ended spans minus spans handed to the exporter goes wrong because a batch leaves the
 * queue before the exporter sees it, and at start (host.id still being read) it waits between
 * the two, so a burst then would be counted as dropped while the queue still took it; a
 * subclass would have to read the processor's private queue. The option is marked experimental:
 * sdk-trace is pinned, {@link QueueFullMeter.wired} is checked at start, and the
 * OTEL_BSP_MAX_QUEUE_SIZE=100 test of libs/telemetry/test/batch-options.test.ts fails if an
 * upgrade stops the count.
 */
export function queueFullMeterProvider(listener: SpanExportListener): QueueFullMeter {
  const noop = createNoopMeter();
  let wired = false;
  const processed: Counter = {
    add(value: number, attributes?: MetricAttributes) {
      if (attributes?.[ERROR_TYPE] === 'queue_full') listener.dropped('queue_full', value);
    },
  };
  const meter = Object.create(noop) as Meter;
  meter.createCounter = (name, options) => {
    if (name !== SPANS_PROCESSED) return noop.createCounter(name, options);
    wired = true;
    return processed;
  };
  return { provider: { getMeter: () => meter }, wired: () => wired };
}
