import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { platformWithSecrets } from '@psc/contracts';
import { AppError } from '@psc/core';
import { createEgressGuard } from '@psc/egress';
import { DeferError } from '@psc/messaging';
import { startFakePlatform } from '@psc/testing';
import { createPlatformBreakers, createPlatformHttpClient } from '../src/index.ts';

describe('@psc/platform-http: what opens a platform’s breaker', () => {
  it('when a platform refuses requests (404) again and again, then its breaker stays closed and calls go on; when it answers 503 as often, then the breaker opens and defers the next call', async (t) => {
    const fake = await startFakePlatform();
    const breakers = createPlatformBreakers({ logger: { info: () => undefined } });
    const client = createPlatformHttpClient({
      maxBytes: 1_024,
      egress: createEgressGuard({ allow: ['127.0.0.1'] }),
      breakers,
    });
    t.after(async () => {
      client.close();
      await fake.stop();
    });
    const now = new Date().toISOString();
    const platform = platformWithSecrets.parse({
      name: `p-${randomUUID().slice(0, 8)}`,
      baseUrl: fake.url,
      resources: [{ name: 'r', request: { path: '/' }, itemsPath: '$', key: 'id', mapping: {} }],
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
      id: randomUUID(),
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
    const failure = (path: string) =>
      client.request(platform, { path }).then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );

    fake.setFault({ status: 404 });
    for (let i = 0; i < 5; i += 1) {
      const err = await failure('/missing');
      assert.ok(err instanceof AppError && !err.retryable, String(err));
    }
    assert.equal(breakers.state(platform.id), 'closed', 'refusals say nothing of its health');
    assert.equal(fake.requests.length, 5, 'every call went out');

    fake.setFault({ status: 503 });
    // The refusals stay in the breaker's window as calls that went well: half of the calls of
    // the window must fail before it opens.
    for (let i = 0; i < 20; i += 1) {
      const err = await failure('/down');
      if (err instanceof DeferError) break;
      assert.ok(err instanceof AppError && err.retryable, String(err));
    }
    assert.equal(breakers.state(platform.id), 'open');
    const sent = fake.requests.length;
    assert.ok(sent - 5 <= 6, `the breaker opened after ${sent - 5} answers of 503`);
    assert.ok((await failure('/down')) instanceof DeferError, 'the next call is deferred');
    assert.equal(fake.requests.length, sent, 'and not sent');
  });
});
