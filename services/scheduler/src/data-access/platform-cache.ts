import type { PlatformRepository, PlatformView } from './platform.repository.ts';

/** More platforms than this and the cache starts over (a bound, not a working set). */
const MAX_PLATFORMS = 10_000;

/**
 * The active platforms run-now batches named, kept between batches: a batch of run-now requests
 * read its platforms from the projection, one query per batch, for an answer that rarely changes.
 * Exact without any invalidation: jobs made from a kept platform are inserted only if its
 * projection is still at that revision (every change moves it, a repair by the check against the
 * registry too), active and not deleted (job.repository NEW_JOBS), and a request a kept platform
 * refuses is asked again of a fresh read (domain/run-now.ts), so a kept copy can only save a read,
 * never change an answer. Inactive platforms are not kept: they make no jobs to check them by.
 */
export function createPlatformCache(platforms: Pick<PlatformRepository, 'getMany'>) {
  const kept = new Map<string, PlatformView>();
  return {
    /** The platforms of `ids` that exist; `fresh` reads every one of them again. */
    async getMany(ids: readonly string[], fresh: boolean): Promise<Map<string, PlatformView>> {
      const wanted = [...new Set(ids)];
      const missing = fresh ? wanted : wanted.filter((id) => !kept.has(id));
      const read = await platforms.getMany(missing);
      for (const id of missing) {
        const view = read.get(id);
        if (view?.active) kept.set(id, view);
        else kept.delete(id);
      }
      if (kept.size > MAX_PLATFORMS) kept.clear();
      const found = new Map<string, PlatformView>();
      for (const id of wanted) {
        const view = read.get(id) ?? kept.get(id);
        if (view) found.set(id, view);
      }
      return found;
    },
  };
}
