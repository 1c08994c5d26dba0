import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SealedPlatform } from '@psc/contracts';
import { createPlatformCache } from '../src/platform-cache.ts';

const platform = (id: string, version: number) => ({ id, version }) as SealedPlatform;

describe('platform cache', () => {
  it('when jobs of one platform follow each other, then the registry is asked once per TTL', async () => {
    let now = 0;
    const asked: string[] = [];
    const cache = createPlatformCache({
      fetch: (id) => {
        asked.push(id);
        return Promise.resolve(platform(id, 1));
      },
      ttlMs: 1_000,
      now: () => now,
    });
    await Promise.all([cache.get('a'), cache.get('a')]);
    await cache.get('a');
    assert.deepEqual(asked, ['a']);
    now = 1_001;
    await cache.get('a');
    assert.deepEqual(asked, ['a', 'a']);
  });

  it('when the platform is updated, then the next job gets the new version, never the cached one', async () => {
    let version = 1;
    const cache = createPlatformCache({
      fetch: (id) => Promise.resolve(platform(id, version)),
      ttlMs: 60_000,
    });
    assert.equal((await cache.get('a')).version, 1);
    version = 2;
    cache.invalidate('a', 2);
    assert.equal((await cache.get('a')).version, 2);
  });

  it('when an update arrives while an older copy is being fetched, then that copy is not kept', async () => {
    let release: (p: SealedPlatform) => void = () => undefined;
    let calls = 0;
    const cache = createPlatformCache({
      fetch: (id) => {
        calls += 1;
        return calls === 1
          ? new Promise((resolve) => (release = resolve))
          : Promise.resolve(platform(id, 2));
      },
      ttlMs: 60_000,
    });
    const first = cache.get('a');
    cache.invalidate('a', 2);
    release(platform('a', 1));
    assert.equal((await first).version, 1);
    assert.equal((await cache.get('a')).version, 2);
  });

  it('when the registry fails, then the failure is not cached', async () => {
    let fail = true;
    const cache = createPlatformCache({
      fetch: (id) => (fail ? Promise.reject(new Error('down')) : Promise.resolve(platform(id, 1))),
      ttlMs: 60_000,
    });
    await assert.rejects(cache.get('a'));
    fail = false;
    assert.equal((await cache.get('a')).version, 1);
  });
});
