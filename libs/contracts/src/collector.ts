import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';
import { page, pageRequest } from './record.ts';
import { jobParams } from './job.ts';

const count = z.number().int().nonnegative();
const iso = z.iso.datetime();

/**
 * Stage 2 of a fan-out collection (seed 003): one child of a parent collect job, published on
 * `psc.work` with routing key `collect.child` and the parent's priority. Children are not in the
 * job ledger; the parent's job reports them as counts.
 */
export const collectChild = defineMessage(
  'collect.child',
  1,
  z.object({
    parentJobId: z.uuid(),
    /** The parent's run: a child of a run that was since replayed is ignored. */
    parentRun: z.number().int().positive().default(1),
    index: z.number().int().nonnegative(),
    platformId: z.uuid(),
    resource: z.string().min(1),
    priority: z.number().int().min(1).max(9),
    /** The run's params merged with the index entry's fields: the child request's placeholders. */
    params: z.record(z.string(), z.unknown()),
  }),
);
export type CollectChild = z.infer<typeof collectChild.payload>;

/**
 * `queued`: the collect job waits in the queue and nothing is collected yet (the gateway reports
 * it from the ledger; the collector's own records start at `running`).
 */
export const COLLECTION_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

export const childCounts = z.object({ total: count, succeeded: count, failed: count });

/** Exactly one per collection, when its last child (or its single fetch) has ended. */
export const collectionCompleted = defineMessage(
  'collection.completed',
  1,
  z.object({
    jobId: z.uuid(),
    platformId: z.uuid(),
    resource: z.string(),
    status: z.enum(['succeeded', 'failed']),
    documents: count,
    children: childCounts.nullable(),
    at: iso,
  }),
);

/** A collection run as the collector keeps it. */
export const collection = z.object({
  jobId: z.uuid(),
  platformId: z.uuid(),
  resource: z.string(),
  params: z.record(z.string(), z.unknown()),
  status: z.enum(COLLECTION_STATUSES),
  documents: count,
  children: childCounts.nullable(),
  /** Null while `queued`. */
  startedAt: iso.nullable(),
  finishedAt: iso.nullable(),
});
export type Collection = z.infer<typeof collection>;

/** One raw fetched document with its provenance. */
export const collectedDocument = z.object({
  id: z.string(),
  jobId: z.uuid(),
  childIndex: z.number().int().nullable(),
  platformId: z.uuid(),
  resource: z.string(),
  params: z.record(z.string(), z.unknown()),
  url: z.string(),
  fetchedAt: iso,
  /** The collector replica that fetched it (null for documents collected before this was kept). */
  workerId: z.string().nullable(),
  data: z.unknown(),
});
export type CollectedDocument = z.infer<typeof collectedDocument>;

/** POST /api/v1/collections */
export const collectionRequest = z.strictObject({
  platformId: z.uuid(),
  resource: z.string().min(1).max(100),
  params: jobParams.default({}),
  priority: z.number().int().min(1).max(9).optional(),
});

/** `<platform name>/<resource>` */
export const collectorName = z
  .string()
  .min(3)
  .max(201)
  .regex(/^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/, 'expected <platform>/<resource>');

/** A collector as the API shows it: the collector service's view with the scheduler's switch. */
export const collectorStatus = z.object({
  name: z.string(),
  platformId: z.uuid(),
  resource: z.string(),
  params: z.array(z.string()),
  fanOut: z.boolean(),
  /**
   * Stopped collectors get no scheduled runs; `once` and the collections API still run. Null
   * when the scheduler, which holds the switch, did not answer: the rest is the collector's own.
   */
  enabled: z.boolean().nullable(),
  /** Why it was stopped (the reason given with the stop; null when none, or when it runs). */
  stoppedReason: z.string().nullable(),
  /** When it was stopped; null when it runs, or when the scheduler did not answer. */
  stoppedAt: z.iso.datetime().nullable(),
  running: count,
  lastRun: collection.nullable(),
});
export type CollectorStatus = z.infer<typeof collectorStatus>;

/** A collector as the collector service knows it: its resource and its runs. */
export const collectorInfo = collectorStatus.omit({
  enabled: true,
  stoppedReason: true,
  stoppedAt: true,
});
export type CollectorInfo = z.infer<typeof collectorInfo>;

export const collectionGet = defineRpc(
  'collector',
  'collection.get',
  z.object({ jobId: z.uuid() }),
  collection,
);
export const collectionDocuments = defineRpc(
  'collector',
  'collection.documents',
  z.object({ jobId: z.uuid(), ...pageRequest }),
  page(collectedDocument),
);
/** A fan-out child's state in the collector's table: `pending` until it is fetched or given up. */
const CHILD_STATUSES = ['pending', 'succeeded', 'failed'] as const;

/** Longest error a child reports: the collector's own `code: message`, cut at this length. */
export const CHILD_ERROR_CHARS = 1_000;

/** One fan-out child of the collection's current run. */
export const collectionChild = z.object({
  index: count,
  status: z.enum(CHILD_STATUSES),
  /**
   * Why it failed (`code: message`, no response body or credentials), at most
   * {@link CHILD_ERROR_CHARS} characters; null unless `failed`.
   */
  error: z.string().nullable(),
  /** When it ended; null while `pending`. */
  finishedAt: iso.nullable(),
  /** The collector replica that ended it; null while `pending`. */
  workerId: z.string().nullable(),
});
export type CollectionChild = z.infer<typeof collectionChild>;

/** A page of a collection's children by index, `cursor` being the last index served. */
export const collectionChildren = defineRpc(
  'collector',
  'collection.children',
  z.object({
    jobId: z.uuid(),
    status: z.enum(CHILD_STATUSES).optional(),
    cursor: z
      .string()
      .regex(/^\d{1,9}$/, 'a child index from a previous page')
      .optional(),
    limit: pageRequest.limit,
  }),
  page(collectionChild),
);
/**
 * One page of a collection's documents as JSONL, rendered by the collector: each line is a
 * document with its provenance. A page ends once its text reaches a byte budget (the reply stays
 * under the broker's message cap); a document longer than that comes in pieces over several
 * pages, so the gateway only concatenates `text`.
 */
export const collectionExport = defineRpc(
  'collector',
  'collection.export',
  z.object({
    jobId: z.uuid(),
    cursor: z.string().max(100).optional(),
    limit: z.number().int().min(1).max(5_000).default(1_000),
  }),
  z.object({
    /** Lines ending in `\n`, except when a long document continues on the next page. */
    text: z.string(),
    /** Documents whose line ended on this page. */
    count: count,
    nextCursor: z.string().nullable(),
  }),
);
export const collectorList = defineRpc(
  'collector',
  'collector.list',
  z.object({}),
  z.object({ items: z.array(collectorInfo) }),
);
export const collectorStatusGet = defineRpc(
  'collector',
  'collector.status',
  z.object({ name: collectorName }),
  collectorInfo,
);
