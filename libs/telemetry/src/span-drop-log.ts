import { scrubUrlText } from './scrub-spans.ts';
import { SPAN_DROP_REASONS, type SpanDropReason } from './span-export-counts.ts';

/** At most one line per reason this often: a collector down for an hour writes 60, not millions. */
const DROP_LOG_INTERVAL_MS = 60_000;

export interface SpanDropLogOptions {
  /** `service` of the line (`OTEL_SERVICE_NAME`); left out when unknown. */
  service?: string;
  /** The queue's size, named in a `queue_full` line's hint. */
  maxQueueSize: number;
  /** 60 s when omitted. */
  intervalMs?: number;
  /** Where a line goes; stderr when omitted. */
  write?: (line: string) => void;
}

/** Warning lines about dropped spans, rate-limited; see {@link createSpanDropLog}. */
export interface SpanDropLog {
  /** `count` spans were dropped for `reason`; `err` is why their export failed. */
  dropped(reason: SpanDropReason, count: number, err?: unknown): void;
  /** Writes what is pending now (the process is exiting). */
  flush(): void;
}

const HINTS: Readonly<Record<SpanDropReason, string>> = {
  queue_full:
    'more spans ended than the export queue holds before the collector took them: raise OTEL_BSP_MAX_QUEUE_SIZE for bursts, or check that the collector keeps up',
  export_failed:
    'the trace collector did not accept their export: check that it is up and reachable at OTEL_EXPORTER_OTLP_ENDPOINT',
};

/** One warning line as the service's pino logger writes it: `level`, `time`, `service`, …, `msg`. */
export function warningLine(service: string | undefined, fields: object, msg: string): string {
  const line = {
    level: 'warn',
    time: new Date().toISOString(),
    ...(service === undefined ? {} : { service }),
    ...fields,
    msg,
  };
  return `${JSON.stringify(line)}\n`;
}

function errorText(err: unknown): string {
  return scrubUrlText(err instanceof Error ? err.message : String(err));
}

/**
 * Tells the operator that spans are being dropped, with a warning in pino's format (`level`,
 * `time`, `service`, `msg`) on stderr: the SDK starts before the service's code, so the service's
 * logger is not there to use (and these lines are not shipped to `GET /api/v1/logs`). Per reason,
 * at most one line per interval, counting the spans dropped since the previous one. The first
 * drop after a quiet interval is written on the next timer turn, so a burst that drops thousands
 * of spans in one turn is one line. `dropped` is O(1) and allocates nothing after the first drop
 * of an interval: the queue calls it once per span it turns away.
 */
export function createSpanDropLog(options: SpanDropLogOptions): SpanDropLog {
  const intervalMs = options.intervalMs ?? DROP_LOG_INTERVAL_MS;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const pending: Record<SpanDropReason, number> = { queue_full: 0, export_failed: 0 };
  const lastLineAt: Record<SpanDropReason, number> = {
    queue_full: -Infinity,
    export_failed: -Infinity,
  };
  const timers: Record<SpanDropReason, NodeJS.Timeout | undefined> = {
    queue_full: undefined,
    export_failed: undefined,
  };
  let lastError: unknown;

  const writeLine = (reason: SpanDropReason): void => {
    clearTimeout(timers[reason]);
    timers[reason] = undefined;
    const count = pending[reason];
    if (count === 0) return;
    pending[reason] = 0;
    lastLineAt[reason] = performance.now();
    const fields = {
      reason,
      dropped: count,
      ...(reason === 'queue_full' ? { maxQueueSize: options.maxQueueSize } : {}),
      ...(reason === 'export_failed' && lastError !== undefined
        ? { err: errorText(lastError) }
        : {}),
      hint: HINTS[reason],
    };
    write(warningLine(options.service, fields, 'trace spans dropped'));
  };

  return {
    dropped(reason, count, err) {
      pending[reason] += count;
      if (err !== undefined) lastError = err;
      if (timers[reason] !== undefined) return;
      const wait = Math.max(0, lastLineAt[reason] + intervalMs - performance.now());
      // unref: a pending line must not keep an otherwise finished process alive (flush does it).
      timers[reason] = setTimeout(writeLine, wait, reason).unref();
    },
    flush() {
      for (const reason of SPAN_DROP_REASONS) writeLine(reason);
    },
  };
}
