import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One structured log entry; `fields` never holds secrets (they are redacted before publish). */
export const logEntry = z.object({
  at: z.iso.datetime(),
  level: z.enum(LOG_LEVELS),
  service: z.string().min(1).max(100),
  platformId: z.uuid().nullable(),
  jobId: z.uuid().nullable(),
  message: z.string().max(2_000),
  fields: z.record(z.string(), z.unknown()),
  traceId: z.string().max(64).nullable(),
});
export type LogEntry = z.infer<typeof logEntry>;

/** Most entries one `log.recorded` carries: 100 × (2 KB message + 4 KB fields) stays under 1 MiB. */
export const LOG_ENTRIES_PER_MESSAGE = 100;

/**
 * A service's warn+ or job-related log lines, kept by the collector's log store: one message per
 * shipped batch (a message per line cost a publish per job). Each entry carries its own id, so a
 * redelivered batch stores nothing twice.
 */
export const logRecorded = defineMessage(
  'log.recorded',
  2,
  z.object({
    entries: z
      .array(logEntry.extend({ id: z.uuid() }))
      .min(1)
      .max(LOG_ENTRIES_PER_MESSAGE),
  }),
);

export const logQuery = z.object({
  /** That level and above. */
  level: z.enum(LOG_LEVELS).default('info'),
  service: z.string().min(1).max(100).optional(),
  platformId: z.uuid().optional(),
  jobId: z.uuid().optional(),
  /** At or after; with any offset (`Z`, `+09:00`). */
  since: z.iso.datetime({ offset: true }).optional(),
  /** Before: what led up to a moment (an incident, an alert). */
  until: z.iso.datetime({ offset: true }).optional(),
  /** `nextCursor` of the page before: the entries older than it. */
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

export const logsQuery = defineRpc(
  'collector',
  'logs.query',
  logQuery,
  z.object({
    items: z.array(logEntry.extend({ id: z.string() })),
    /**
     * Where the next (older) page starts; null when there is none, and in the answers of
     * collectors of earlier releases (a gateway upgraded first still answers, without paging).
     */
    nextCursor: z.string().nullable().default(null),
  }),
);
