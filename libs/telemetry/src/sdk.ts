import type { IncomingMessage } from 'node:http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ParentBasedSampler } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { KoaInstrumentation, KoaLayerType } from '@opentelemetry/instrumentation-koa';
import { BATCH_DEFAULTS, type BatchOptions } from './batch-options.ts';
import { ScrubbingSpanProcessor } from './scrub-spans.ts';
import { setStartedSdk } from './sdk-state.ts';
import { createSpanDropLog, warningLine } from './span-drop-log.ts';
import { countDroppedSpans, countExportedSpans } from './span-export-counts.ts';
import {
  CountingSpanExporter,
  queueFullMeterProvider,
  type SpanExportListener,
} from './span-export-tracking.ts';
import { PinnableIdGenerator } from './span-in-trace.ts';
import { UntracedMessagesSampler } from './untraced-messages.ts';

/** Probe and scrape paths: spans for them would only be noise. */
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

export interface StartTelemetryOptions {
  /** `service.name` resource attribute; defaults to `OTEL_SERVICE_NAME` via the SDK's detectors. */
  serviceName?: string;
  /** How spans are queued and exported: {@link batchOptionsFromEnv} of the process's env. */
  batch?: BatchOptions;
}

function isUntraced(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?', 1)[0] ?? '';
  return UNTRACED_PATHS.has(path);
}

/**
 * Starts the NodeSDK exporting traces over OTLP/HTTP (endpoint from the standard
 * `OTEL_EXPORTER_OTLP_*` variables). Metrics and logs exporters are off: metrics are scraped from
 * `/metrics`, logs go to stdout. Loaded only by `register.ts`, after the ESM hook is in place.
 */
export function startTelemetry(options: StartTelemetryOptions = {}): void {
  const batch = options.batch ?? BATCH_DEFAULTS;
  // A flush (shutdown) sends the whole queue at once, a batch per request; the exporter refuses
  // requests past its limit (30 by default), which lost every batch past the 30th.
  const otlp = new OTLPTraceExporter({
    concurrencyLimit: Math.ceil(batch.maxQueueSize / batch.maxExportBatchSize) + 1,
  });
  // Spans lost on the way to the collector: counted for /metrics, and told on stderr, since the
  // SDK's own word (`diag`) is silent unless OTEL_LOG_LEVEL is set.
  const dropLog = createSpanDropLog({
    ...(options.serviceName === undefined ? {} : { service: options.serviceName }),
    maxQueueSize: batch.maxQueueSize,
  });
  process.once('exit', () => dropLog.flush());
  const listener: SpanExportListener = {
    exported: countExportedSpans,
    dropped(reason, count, err) {
      countDroppedSpans(reason, count);
      dropLog.dropped(reason, count, err);
    },
  };
  const exporter = new CountingSpanExporter(otlp, listener);
  const queueFull = queueFullMeterProvider(listener);
  const batchProcessor = new BatchSpanProcessor({
    exporter,
    ...batch,
    selfObsMeterProvider: queueFull.provider,
  });
  if (!queueFull.wired()) {
    const msg = 'this OpenTelemetry SDK does not report spans dropped at a full queue';
    process.stderr.write(warningLine(options.serviceName, { reason: 'queue_full' }, msg));
  }
  const sdk = new NodeSDK({
    ...(options.serviceName === undefined ? {} : { serviceName: options.serviceName }),
    // SDK 3: processors take an options object, not the exporter itself. Scrubbing comes first:
    // it rewrites a span while it ends, before the batch processor queues it for export.
    spanProcessors: [new ScrubbingSpanProcessor(), batchProcessor],
    // Children follow their parent; a root span is sampled unless it is a heartbeat's.
    sampler: new ParentBasedSampler({ root: new UntracedMessagesSampler() }),
    // A job's trace id is chosen when it is planned; its first span is started later, in it.
    idGenerator: new PinnableIdGenerator(),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: isUntraced }),
      new UndiciInstrumentation(),
      new AmqplibInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
      // One span per request (the route's), not one per middleware layer.
      new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
    ],
  });
  sdk.start();
  setStartedSdk(sdk);
}
