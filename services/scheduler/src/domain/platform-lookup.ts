import { summarizePlatform, type Platform } from '@psc/contracts';
import { NotFoundError, type Clock } from '@psc/core';
import type { PlatformRepository, PlatformView } from '../data-access/platform.repository.ts';

/**
 * A platform as the scheduler knows it (its own projection of the registry's events); one it
 * has not heard of yet — its event still in flight — is asked of the registry and projected.
 */
export function createPlatformLookup(deps: {
  registry: { get(id: string): Promise<Platform> };
  platforms: PlatformRepository;
  clock: Clock;
}) {
  return async function platformById(
    id: string,
    known: ReadonlyMap<string, PlatformView> = new Map(),
  ): Promise<PlatformView> {
    const found = known.get(id) ?? (await deps.platforms.get(id));
    if (found) return found;
    const p = await deps.registry.get(id);
    await deps.platforms.upsert(summarizePlatform(p), deps.clock.now());
    const stored = await deps.platforms.get(id);
    if (!stored) throw new NotFoundError(`platform ${id} not found`);
    return stored;
  };
}
