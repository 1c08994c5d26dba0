import { summarizePlatform, type Platform, type PlatformSummary } from '@psc/contracts';
import { AppError, type Clock } from '@psc/core';

/** Platforms the registry answers per page (its most). */
const LIST_PAGE = 500;
/** Projected platforms read per query while looking for those the registry no longer lists. */
const PROJECTED_PAGE = 1_000;
/** A registry that never stops paging is cut off here (500,000 platforms). */
const MAX_PAGES = 1_000;

export interface PlatformCheckResult {
  /** Platforms the registry listed. */
  listed: number;
  /** Platforms whose projection was missing, older or different, now as the registry has them. */
  updated: string[];
  /** Platforms projected as live that the registry no longer has. */
  deleted: string[];
}

/**
 * Compares the scheduler's projection of platforms with the registry and repairs it. Events
 * keep it current; this finds what they could not: a projection restored from an older backup,
 * an event parked as poison, summaries from a registry too old to carry resources' `params`. A
 * platform listed by the registry is applied when it is newer or says something else at the
 * same version; one projected as live but no longer listed is asked for by id, and marked
 * deleted only when the registry answers that it is gone (a rename during the listing can hide
 * a platform from it, never delete it).
 */
export function createPlatformCheck(deps: {
  listPage: (request: {
    cursor?: string;
    limit: number;
  }) => Promise<{ items: Platform[]; nextCursor: string | null }>;
  get: (id: string) => Promise<Platform>;
  upsertMany: (summaries: readonly PlatformSummary[], at: Date) => Promise<string[]>;
  projectedAfter: (
    afterId: string | null,
    limit: number,
  ) => Promise<{ id: string; version: number; updatedAt: Date }[]>;
  markDeleted: (id: string, version: number, at: Date) => Promise<void>;
  clock: Clock;
}) {
  return async function check(): Promise<PlatformCheckResult> {
    const started = deps.clock.now();
    const listed = new Set<string>();
    const updated: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const { items, nextCursor } = await deps.listPage({
        limit: LIST_PAGE,
        ...(cursor ? { cursor } : {}),
      });
      for (const p of items) listed.add(p.id);
      updated.push(...(await deps.upsertMany(items.map(summarizePlatform), deps.clock.now())));
      if (!nextCursor) break;
      cursor = nextCursor;
    }

    const deleted: string[] = [];
    let after: string | null = null;
    for (;;) {
      const rows = await deps.projectedAfter(after, PROJECTED_PAGE);
      // Projected since the check began: from an event newer than the listing.
      for (const row of rows.filter((r) => !listed.has(r.id) && r.updatedAt < started)) {
        try {
          const p = await deps.get(row.id);
          updated.push(...(await deps.upsertMany([summarizePlatform(p)], deps.clock.now())));
        } catch (err) {
          // The registry's 404, as the RPC client hands it over.
          if (!(err instanceof AppError && err.status === 404)) throw err;
          await deps.markDeleted(row.id, row.version, deps.clock.now());
          deleted.push(row.id);
        }
      }
      const last = rows.at(-1);
      if (!last || rows.length < PROJECTED_PAGE) break;
      after = last.id;
    }
    return { listed: listed.size, updated, deleted };
  };
}
