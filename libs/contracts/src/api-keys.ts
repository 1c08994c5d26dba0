import { z } from 'zod';

/** `viewer` reads; `operator` also runs jobs and controls scheduler, collector and DLQ; `admin` all. */
export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export const apiKeyCreateBody = z.strictObject({
  name: z.string().min(1).max(100),
  role: z.enum(API_ROLES),
});

/** An API key as listed: never the key itself, which is stored only as a hash. */
export const apiKeyView = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(API_ROLES),
  /** First characters of the key, to tell keys apart. */
  prefix: z.string(),
  createdAt: z.iso.datetime(),
  /** Key id of the admin who created it; null for the bootstrap key. */
  createdBy: z.uuid().nullable(),
  lastUsedAt: z.iso.datetime().nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyView>;

/** Answer to `POST /api-keys`: the only time the key is shown. */
export const apiKeyCreated = apiKeyView.extend({ key: z.string() });

/**
 * One change an operator made — to a platform or key, or an action on the scheduler, a task
 * type, a job, the dead-letter queue, a breaker or a backfill: who (key id), what, when and,
 * in `details.reason`, why.
 */
export const auditEntry = z.object({
  id: z.string(),
  at: z.iso.datetime(),
  actorKeyId: z.uuid(),
  action: z.string(),
  targetType: z.enum([
    'platform',
    'api-key',
    'scheduler',
    'task-type',
    'job',
    'backfill',
    'webhook',
  ]),
  targetId: z.string(),
  /** Non-secret facts about the change (name, version, role, reason, the route's params). */
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof auditEntry>;

export const auditQuery = z.object({
  cursor: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  targetId: z.string().max(100).optional(),
  action: z
    .string()
    .max(100)
    .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'an action such as dlq.replay, or its first parts (dlq)')
    .optional()
    .meta({
      description:
        'An action (`dlq.replay`), or its first dot-separated parts: `dlq` matches `dlq.replay` and `dlq.delete`, `job.run-now` every task type’s',
      example: 'dlq',
    }),
  actorKeyId: z.uuid().optional().meta({ description: 'Only what this key did' }),
});
