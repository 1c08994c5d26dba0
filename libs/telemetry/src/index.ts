export { createLogger, type Logger, type LoggerOptions } from './logger.ts';
export { redactUrl } from './redact-url.ts';
export { markSecretQueryParam, scrubUrlText } from './scrub-spans.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export {
  registerCounter,
  registerGauge,
  registerHistogram,
  type CounterOptions,
  type GaugeOptions,
  type HistogramOptions,
} from './register-metric.ts';
export { currentTraceId, currentTraceparent, withSpan } from './trace.ts';
export { startSpanInTrace, type SpanInTrace } from './span-in-trace.ts';
export { shutdownTelemetry, type ShutdownTelemetryOptions } from './sdk-state.ts';
export {
  PSC_METRICS,
  METRIC_SERVICES,
  registerCatalogMetric,
  type CatalogMetric,
  type MetricSpec,
  type MetricService,
} from './metric-catalog.ts';
export { registerScrapeGauge, type GaugeSample } from './scrape-gauge.ts';
export { createJobMetrics, type JobMetrics } from './job-metrics.ts';
export { createConsumerMetrics } from './consumer-metrics.ts';
export {
  createLogShipper,
  JOB_OUTCOME_FIELD,
  type LogShipper,
  type ShippedLog,
  type ShipLogs,
} from './log-shipper.ts';
