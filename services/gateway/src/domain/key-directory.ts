import type { ApiRole } from '@psc/contracts';

export interface KnownKey {
  id: string;
  role: ApiRole;
  keyHash: string;
}

/** Revoked ids remembered to settle lookups that race their revocation; keys are few. */
const MAX_TOMBSTONES = 100_000;

/**
 * Every live API key of the system, in memory, so a request's key check costs a map lookup.
 *
 * It is trusted only while this replica hears `api-key.revoked` events: `subscribed()` (called
 * once the event queue is bound, so no revocation can fall between the two) reloads every key
 * from PostgreSQL and switches memory on; `unsubscribed()` (the broker went away, events may be
 * lost) switches it off, and until the next reload every check asks PostgreSQL again. A key
 * created on another replica a moment ago is not in memory yet: a miss asks PostgreSQL once and
 * remembers a live answer. Misses of unknown keys keep asking, which the failed-authentication
 * throttle bounds per address.
 */
export function createKeyDirectory(deps: {
  listLive: () => Promise<KnownKey[]>;
  findByHash: (keyHash: string) => Promise<KnownKey | undefined>;
}) {
  let byHash = new Map<string, KnownKey>();
  const revoked = new Set<string>();
  let live = false;
  /** Bumped by every (un)subscription, so a reload that finished late does not switch memory on. */
  let generation = 0;

  const remember = (key: KnownKey): void => {
    if (!revoked.has(key.id)) byHash.set(key.keyHash, key);
  };

  return {
    /** The live key with this hash, if any. */
    async lookup(keyHash: string): Promise<KnownKey | undefined> {
      if (live) {
        const hit = byHash.get(keyHash);
        if (hit) return hit;
      }
      const found = await deps.findByHash(keyHash);
      if (!found || revoked.has(found.id)) return undefined;
      if (live) remember(found);
      return found;
    },

    /** A key was revoked (here, or on another replica: the event). */
    revoke(keyId: string): void {
      if (revoked.size >= MAX_TOMBSTONES) revoked.clear();
      revoked.add(keyId);
      for (const [hash, key] of byHash) if (key.id === keyId) byHash.delete(hash);
    },

    /** Events flow: reload every key, then serve from memory. */
    async subscribed(): Promise<void> {
      const mine = ++generation;
      live = false;
      const keys = await deps.listLive();
      if (mine !== generation) return;
      byHash = new Map();
      for (const key of keys) remember(key);
      live = true;
    },

    /** Events may be missed from now on: ask PostgreSQL until the next `subscribed()`. */
    unsubscribed(): void {
      generation += 1;
      live = false;
    },

    /** Whether checks are served from memory (for tests and `/ready`-style diagnostics). */
    isLive: (): boolean => live,
  };
}

export type KeyDirectory = ReturnType<typeof createKeyDirectory>;
