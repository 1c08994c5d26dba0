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

/** pino path segment for `key`: bracket notation when it is not a plain identifier. */
function segment(key: string, first: boolean): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `["${key}"]`;
  return first ? key : `.${key}`;
}

/**
 * Secret keys censored by every logger: at the top level and up to three objects deep, which
 * covers `auth.token`, `headers.authorization`, `req.headers["x-api-key"]` and the like.
 */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => [
  segment(key, true),
  `*${segment(key, false)}`,
  `*.*${segment(key, false)}`,
  `*.*.*${segment(key, false)}`,
]);

const MAX_URL_DEPTH = 3;

function isUrlKey(key: string): boolean {
  return key === 'url' || key.endsWith('Url') || key.endsWith('URL');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Copies `obj` only where a `url`/`*Url` string field carried credentials. */
function maskUrlFields(obj: Record<string, unknown>, depth: number): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(obj)) {
    let masked: unknown = value;
    if (typeof value === 'string' && isUrlKey(key)) masked = redactUrl(value);
    else if (depth < MAX_URL_DEPTH && isPlainObject(value))
      masked = maskUrlFields(value, depth + 1);
    if (masked !== value) {
      copy ??= { ...obj };
      copy[key] = masked;
    }
  }
  return copy ?? obj;
}

function serializeError(err: Error): pino.SerializedError {
  const out = pino.stdSerializers.err(err);
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

/**
 * Creates the root logger of a service. Lines carry `service`, plus `trace_id`/`span_id` while an
 * OpenTelemetry span is active. Secret keys are censored as `[redacted]`, and passwords in URL
 * fields (`url`, `*Url`) and in `err.message`/`err.stack` are masked with {@link redactUrl}.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: { err: serializeError },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => maskUrlFields(object, 0),
    },
  };
  if (options.shipper) {
    return pino(
      pinoOptions,
      pino.multistream([
        { level: 'trace', stream: options.destination ?? pino.destination(1) },
        { level: 'info', stream: options.shipper },
      ]),
    );
  }
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
