export { createLogger, REDACT_PATHS, type Logger, type LoggerOptions } from './logger.ts';
export { redactUrl } from './redact-url.ts';
export { markSecretQueryParam, scrubUrlText } from './scrub-spans.ts';
export {
  createMetrics,
  registerCounter,
  registerGauge,
  registerHistogram,
  type Metrics,
  type CounterOptions,
  type GaugeOptions,
  type HistogramOptions,
} from './metrics.ts';
export { currentTraceId, withSpan } from './trace.ts';
export { shutdownTelemetry, type ShutdownTelemetryOptions } from './sdk-state.ts';
