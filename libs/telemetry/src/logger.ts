import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import type { LogShipper } from './log-shipper.ts';
import { redactUrl } from './redact-url.ts';

/** The pino logger every psc component receives (root from `createLogger`, or a child). */
export type Logger = pino.Logger;

export interface LoggerOptions {
  /** Added to every line as `service`. */
  service: string;
  /** pino level; `info` when omitted. */
  level?: string;
  /** Where lines go; stdout when omitted. Tests pass a stream and read it back. */
  destination?: pino.DestinationStream;
  /** Also hands each line (after redaction) to this shipper, which keeps warnings and job lines. */
  shipper?: Pick<LogShipper, 'write'>;
}

const SECRET_KEYS = [
  'token',
  'accessToken',
  'refreshToken',
  'password',
  'secret',
  'clientSecret',
  'apiKey',
  'authorization',
  'x-api-key',
  'cookie',
];

const SECRETS = new Set(SECRET_KEYS);
const CENSOR = '[redacted]';
/** Objects below the line's own fields that are still looked into: `req.headers["x-api-key"]`. */
const MAX_DEPTH = 3;

function isUrlKey(key: string): boolean {
  return key === 'url' || key.endsWith('Url') || key.endsWith('URL');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function scrubValue(key: string, value: unknown, depth: number): unknown {
  if (SECRETS.has(key)) return CENSOR;
  if (typeof value === 'string') return isUrlKey(key) ? redactUrl(value) : value;
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return scrubArray(value, depth + 1);
  return isPlainObject(value) ? scrub(value, depth + 1) : value;
}

/** An array is a level, as pino's `*` counted an index: its items are looked into like fields. */
function scrubArray(list: unknown[], depth: number): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < list.length; i += 1) {
    const value: unknown = list[i];
    const out = scrubValue('', value, depth);
    if (out !== value) {
      copy ??= [...list];
      copy[i] = out;
    }
  }
  return copy ?? list;
}

/**
 * Censors secret keys (`token`, `authorization`, …) as `[redacted]` and masks the password of
 * URL fields (`url`, `*Url`), in the line's fields and up to three objects (or arrays) deep,
 * which covers `auth.token`, `headers.authorization`, `req.headers["x-api-key"]` and the like.
 * Copies only what it changes. One walk per line: pino's `redact` paths (40 of them, with
 * wildcards) walked the line once per path and cost ~40 µs a line, more than the rest of pino.
 */
function scrub(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const value = obj[key];
    const out = scrubValue(key, value, depth);
    if (out !== value) {
      copy ??= { ...obj };
      copy[key] = out;
    }
  }
  return copy ?? obj;
}

function serializeError(err: Error): pino.SerializedError {
  // Serializers run after the line is scrubbed: an error's own fields (a client's config with
  // its headers) are scrubbed here, one level down as the line's would be.
  const out = scrub(pino.stdSerializers.err(err), 1) as pino.SerializedError;
  // Driver errors often quote the connection string they failed to reach.
  if (typeof out.message === 'string') out.message = redactUrl(out.message);
  if (typeof out.stack === 'string') out.stack = redactUrl(out.stack);
  return out;
}

function traceFields(): Record<string, string> {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

const STDOUT_BUFFER_BYTES = 4_096;
const STDOUT_FLUSH_MS = 200;

/**
 * stdout written in chunks of 4 KB, and at least every 200 ms: a write per line (pino's default)
 * was a system call per request in the gateway and per job in the workers, and blocked the
 * process whenever the pipe's reader lagged. pino flushes the buffer when the process exits;
 * only a kill -9 can lose what the last 200 ms logged (the shipped copy of warnings and job
 * lines is separate).
 */
function bufferedStdout(): pino.DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: STDOUT_BUFFER_BYTES });
  const timer = setInterval(() => {
    try {
      dest.flush();
    } catch {
      clearInterval(timer); // destroyed: the process is ending
    }
  }, STDOUT_FLUSH_MS);
  timer.unref();
  return dest;
}

/**
 * Creates the root logger of a service. Lines carry `service`, plus `trace_id`/`span_id` while an
 * OpenTelemetry span is active. Secret keys are censored as `[redacted]`, and passwords in URL
 * fields (`url`, `*Url`) and in `err.message`/`err.stack` are masked with {@link redactUrl}
 * ({@link scrub}, for the line's fields and a child's bindings).
 */
export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    serializers: { err: serializeError },
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bindings) => scrub(bindings),
      log: (object) => scrub(object),
    },
  };
  const out = options.destination ?? bufferedStdout();
  const root = options.shipper
    ? pino(
        pinoOptions,
        pino.multistream([
          { level: 'trace', stream: out },
          { level: 'info', stream: options.shipper },
        ]),
      )
    : pino(pinoOptions, out);
  // pino applies formatters.bindings to the root's bindings only; a child's are scrubbed here.
  // Children inherit this method from the root (pino makes them with Object.create).
  const child = Object.getPrototypeOf(root) as { child: Logger['child'] };
  root.child = function scrubbedChild(this: Logger, bindings, childOptions) {
    return child.child.call(this, scrub(bindings), childOptions);
  } as Logger['child'];
  return root;
}
