import type { SealedPlatform } from '@psc/contracts';

export interface PlatformCache {
  get(id: string): Promise<SealedPlatform>;
  /** A platform changed or went away (event of `version`): the next job asks the registry again. */
  invalidate(id: string, version?: number): void;
  size(): number;
}

/**
 * Per-replica cache of platforms (credentials sealed) so a job, or a fan-out child, does not cost
 * an RPC to the registry. `platform.updated`/`platform.deleted` events invalidate an entry as soon
 * as they arrive (platform-events.ts); the TTL bounds staleness if an event is late or lost (the
 * replica's platform-events queue was down).
 * Concurrent misses for one id share one RPC. Entries live only in memory, never logged.
 */
export function createPlatformCache(options: {
  fetch: (id: string) => Promise<SealedPlatform>;
  ttlMs: number;
  now?: () => number;
}): PlatformCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: Promise<SealedPlatform>; expires: number }>();
  // Bumped on every invalidation: a fetch that started before it must not store its older copy.
  const generations = new Map<string, number>();
  const minVersions = new Map<string, number>();

  return {
    get(id) {
      const hit = entries.get(id);
      if (hit && hit.expires > now()) return hit.value;
      const generation = generations.get(id) ?? 0;
      const value = options.fetch(id).then((platform) => {
        const stale = platform.version < (minVersions.get(id) ?? 0);
        if (stale || (generations.get(id) ?? 0) !== generation) {
          if (entries.get(id)?.value === value) entries.delete(id);
        }
        return platform;
      });
      entries.set(id, { value, expires: now() + options.ttlMs });
      // Failures are not cached: the next job asks again.
      value.catch(() => {
        if (entries.get(id)?.value === value) entries.delete(id);
      });
      return value;
    },
    invalidate(id, version) {
      entries.delete(id);
      generations.set(id, (generations.get(id) ?? 0) + 1);
      if (version !== undefined) minVersions.set(id, Math.max(version, minVersions.get(id) ?? 0));
    },
    size: () => entries.size,
  };
}
