/**
 * How the span batch processor queues and exports: the standard `OTEL_BSP_*` variables, with
 * psc's defaults. NodeSDK reads them only for the processors it builds itself; psc builds its own
 * (scrubbing goes first), so without this they would be silently ignored.
 */
export interface BatchOptions {
  /** `OTEL_BSP_SCHEDULE_DELAY`: the longest a finished span waits for its export. */
  scheduledDelayMillis: number;
  /** `OTEL_BSP_MAX_QUEUE_SIZE`: spans held for export; past it, new spans are dropped. */
  maxQueueSize: number;
  /** `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: spans per OTLP request. */
  maxExportBatchSize: number;
  /** `OTEL_BSP_EXPORT_TIMEOUT`: how long one export may take. */
  exportTimeoutMillis: number;
}

/**
 * psc's defaults. The delay is short so a job's spans show soon after it ends (the standard's
 * 5 s). The queue is 16 times the standard's 2,048: a scheduler tick that starts 10,000 runs ends
 * a root span and a publish span for each within a few event-loop turns, and each span held costs
 * about a kilobyte, so the queue bounds that to ~32 MB while tracing is on.
 */
export const BATCH_DEFAULTS: Readonly<BatchOptions> = {
  scheduledDelayMillis: 200,
  maxQueueSize: 32_768,
  maxExportBatchSize: 512,
  exportTimeoutMillis: 30_000,
};

const VARIABLES: Readonly<Record<keyof BatchOptions, string>> = {
  scheduledDelayMillis: 'OTEL_BSP_SCHEDULE_DELAY',
  maxQueueSize: 'OTEL_BSP_MAX_QUEUE_SIZE',
  maxExportBatchSize: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  exportTimeoutMillis: 'OTEL_BSP_EXPORT_TIMEOUT',
};

/** Above this, a setting is a typo: ~24 days of delay, or millions of spans held. */
const MAX_SETTING = 2_147_483_647;

/**
 * The batch options `env` asks for. A value that is not a whole number from 1 up throws, naming
 * the variable: a process told to trace should not start tracing differently from what it was
 * told. A batch larger than the queue is cut to the queue, as the SDK would.
 */
export function batchOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): BatchOptions {
  const options = { ...BATCH_DEFAULTS };
  for (const key of Object.keys(VARIABLES) as (keyof BatchOptions)[]) {
    const name = VARIABLES[key];
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_SETTING) {
      throw new Error(
        `${name} must be a whole number from 1 to ${MAX_SETTING} (got ${JSON.stringify(raw.slice(0, 40))})`,
      );
    }
    options[key] = value;
  }
  options.maxExportBatchSize = Math.min(options.maxExportBatchSize, options.maxQueueSize);
  return options;
}
