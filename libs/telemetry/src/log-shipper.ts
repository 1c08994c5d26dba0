/** A log line as psc ships it to the collector's log store (`log.recorded`'s payload). */
export interface ShippedLog {
  at: string;
  level: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  service: string;
  platformId: string | null;
  jobId: string | null;
  message: string;
  fields: Record<string, unknown>;
  traceId: string | null;
}

export interface LogShipperOptions {
  service: string;
  /** Most lines shipped per second; the rest are counted and reported as one line. Default 50. */
  maxPerSecond?: number;
  /** Most lines held while waiting to be sent; older ones are dropped first. Default 500. */
  maxBuffered?: number;
  /** How often the buffer is sent. Default 500 ms. */
  flushMs?: number;
}

/**
 * Marks a job attempt's own outcome line (`job succeeded`, `job failed`…), which the job runner
 * logs once per attempt. It is the only log entry of a success, so the rate limit never drops it;
 * its rate is the job rate, and the buffer (`maxBuffered` per `flushMs`) still bounds it.
 */
export const JOB_OUTCOME_FIELD = 'jobOutcome';

/** What the shipper hands its lines to, once the service has a publisher. */
export type ShipLogs = (entries: ShippedLog[]) => Promise<void>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'fatal']);
/** Fields that become columns of the entry, or that pino adds to every line. */
const OWN_KEYS = new Set([
  'time',
  'level',
  'service',
  'msg',
  'platformId',
  'jobId',
  'trace_id',
  'span_id',
  'traceId',
  JOB_OUTCOME_FIELD,
  'pid',
  'hostname',
]);
/** Lines of the components the shipper itself sends through: never shipped (no feedback loop). */
const UNSHIPPED_COMPONENTS = new Set(['broker', 'publisher', 'outbox']);
const MAX_FIELDS_BYTES = 4_000;

const uuidOr = (value: unknown): string | null =>
  typeof value === 'string' && UUID.test(value) ? value : null;

/**
 * Ships a service's log lines to `GET /api/v1/logs`: warnings and errors, and every line about a
 * job (one with a `jobId`). It is a pino destination (`write(line)`), so it sees lines after
 * redaction. Bounded: a token bucket of `maxPerSecond` (job outcome lines, one per attempt, skip
 * it), a buffer of `maxBuffered`, one send per `flushMs`; what is dropped is reported as a count
 * in the next batch. A failed send is dropped and counted, never logged, so the shipper cannot
 * feed itself.
 */
export function createLogShipper(options: LogShipperOptions) {
  const maxPerSecond = options.maxPerSecond ?? 50;
  const maxBuffered = options.maxBuffered ?? 500;
  const flushMs = options.flushMs ?? 500;
  let buffer: ShippedLog[] = [];
  let dropped = 0;
  let tokens = maxPerSecond;
  let refilledAt = Date.now();
  let ship: ShipLogs | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;

  function take(): boolean {
    const now = Date.now();
    tokens = Math.min(maxPerSecond, tokens + ((now - refilledAt) / 1000) * maxPerSecond);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function entryOf(line: string): { entry: ShippedLog; outcome: boolean } | undefined {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const level = typeof parsed.level === 'string' && LEVELS.has(parsed.level) ? parsed.level : '';
    const jobId = uuidOr(parsed.jobId);
    const important = level === 'warn' || level === 'error' || level === 'fatal';
    if (!important && !(jobId && level === 'info')) return undefined;
    if (UNSHIPPED_COMPONENTS.has(String(parsed.component))) return undefined;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(parsed)) if (!OWN_KEYS.has(key)) fields[key] = value;
    const fieldsText = JSON.stringify(fields);
    const traceId = parsed.trace_id ?? parsed.traceId;
    const entry: ShippedLog = {
      at: typeof parsed.time === 'string' ? parsed.time : new Date().toISOString(),
      level,
      service: options.service,
      platformId: uuidOr(parsed.platformId),
      jobId,
      message: (typeof parsed.msg === 'string' ? parsed.msg : '').slice(0, 2_000),
      fields:
        fieldsText.length <= MAX_FIELDS_BYTES
          ? fields
          : { truncated: true, text: fieldsText.slice(0, MAX_FIELDS_BYTES) },
      traceId: typeof traceId === 'string' && traceId.length <= 64 ? traceId : null,
    };
    return { entry, outcome: jobId !== null && parsed[JOB_OUTCOME_FIELD] === true };
  }

  async function flush(): Promise<void> {
    if (!ship || sending) return;
    if (buffer.length === 0 && dropped === 0) return;
    const batch = buffer;
    buffer = [];
    if (dropped > 0) {
      batch.push({
        at: new Date().toISOString(),
        level: 'warn',
        service: options.service,
        platformId: null,
        jobId: null,
        message: `${dropped} log lines not shipped (rate limit, full buffer or failed sends)`,
        fields: { dropped },
        traceId: null,
      });
      dropped = 0;
    }
    sending = ship(batch)
      .catch(() => {
        dropped += batch.length;
      })
      .finally(() => {
        sending = undefined;
      });
    await sending;
  }

  return {
    /** pino destination: one JSON line per call. */
    write(line: string): void {
      const shipped = entryOf(line);
      if (!shipped) return;
      if (buffer.length >= maxBuffered || (!shipped.outcome && !take())) {
        dropped += 1;
        return;
      }
      buffer.push(shipped.entry);
    },
    /** Starts sending through `send` (the service's publisher). */
    start(send: ShipLogs): void {
      ship = send;
      timer ??= setInterval(() => void flush(), flushMs);
      timer.unref();
    },
    /** Sends what is buffered, then stops. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await sending;
      await flush();
      ship = undefined;
    },
  };
}

export type LogShipper = ReturnType<typeof createLogShipper>;
