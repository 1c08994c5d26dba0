import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, type FakePlatform, type RecordedRequest } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { jobFinished, type JobView } from '../support/platforms.ts';
import { rawRpc } from '../support/raw-rpc.ts';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const BEARER = secret('bearer');
const HEADER = secret('header');
const QUERY = secret('query');

/** How each credential style must reach the platform for it to answer. */
const STYLES = [
  {
    path: '/by-bearer',
    auth: { type: 'bearer', token: BEARER },
    carries: (r: RecordedRequest) => r.headers.authorization === `Bearer ${BEARER}`,
  },
  {
    path: '/by-header',
    auth: { type: 'header', name: 'X-Key', token: HEADER },
    carries: (r: RecordedRequest) => r.headers['x-key'] === HEADER,
  },
  {
    path: '/by-query',
    auth: { type: 'query', name: 'api_key', token: QUERY },
    carries: (r: RecordedRequest) => r.query.api_key === QUERY,
  },
] as const;

const resource = (path: string, extra: Record<string, unknown> = {}) => ({
  name: 'items',
  request: { path },
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id' },
  ...extra,
});

describe('credentials sealed end to end: only the workers can open them', () => {
  let system: System;
  let fake: FakePlatform;
  const ids = new Map<string, string>();
  let openId: string;

  before(async () => {
    fake = await startFakePlatform();
    for (const style of STYLES) {
      fake.route('GET', style.path, (r) =>
        style.carries(r)
          ? { body: { data: [{ id: 'a' }, { id: 'b' }] } }
          : { status: 401, body: { error: 'no credential' } },
      );
    }
    fake.route('GET', '/open', () => ({ body: { data: [{ id: 'o' }] } }));
    system = await startSystem({ name: 'sealed' });
    for (const style of STYLES) {
      const resources = [
        resource(style.path),
        resource(style.path, { name: 'snapshot', tasks: ['collect'] }),
      ];
      ids.set(style.auth.type, await register({ auth: style.auth, resources }));
    }
    openId = await register({ resources: [resource('/open')] });
  });

  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  async function register(body: Record<string, unknown>): Promise<string> {
    const res = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `sealed-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        ...body,
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  const finished = (id: string) => jobFinished(system, id);

  async function sync(platformId: string): Promise<JobView> {
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'items' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return finished(res.body.jobs[0]!.id);
  }

  it('when any broker client calls platform.get-with-secrets, then no credential appears in the reply bytes, only sealed ones', async () => {
    for (const style of STYLES) {
      const id = ids.get(style.auth.type)!;
      const bytes = await rawRpc(
        system.env.vhost,
        'platform-registry',
        'platform.get-with-secrets',
        {
          id,
        },
      );
      const text = bytes.toString('latin1');
      for (const plain of [BEARER, HEADER, QUERY]) {
        for (const form of [
          plain,
          Buffer.from(plain).toString('base64'),
          Buffer.from(plain).toString('hex'),
        ]) {
          assert.ok(!text.includes(form), `${style.auth.type}: a credential in the reply`);
        }
      }
      const reply = JSON.parse(bytes.toString('utf8')) as {
        ok: boolean;
        result: { id: string; auth: { type: string; name?: string; token: string } };
      };
      assert.equal(reply.ok, true, text.slice(0, 300));
      assert.equal(reply.result.id, id);
      assert.equal(reply.result.auth.type, style.auth.type);
      assert.match(reply.result.auth.token, /^v1\.[\w-]{8}\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    }
  });

  it('when those platforms are synced and collected, then the workers open the credential and the platform receives it', async () => {
    for (const style of STYLES) {
      fake.clearRequests();
      const job = await sync(ids.get(style.auth.type)!);
      assert.equal(job.status, 'succeeded', `${style.auth.type}: ${JSON.stringify(job.error)}`);
      assert.equal(job.stats?.fetched, 2);
      const collected = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId: ids.get(style.auth.type)!, resource: 'snapshot' },
      });
      assert.equal(collected.status, 202, JSON.stringify(collected.body));
      const collect = await finished(collected.body.jobId);
      assert.equal(
        collect.status,
        'succeeded',
        `${style.auth.type}: ${JSON.stringify(collect.error)}`,
      );
      assert.equal(fake.requests.length, 2);
      assert.ok(fake.requests.every(style.carries), style.auth.type);
    }
  });

  it('when a sync-worker holds another PSC_WORKER_SECRET_KEY, then a job needing a credential fails once with worker_key_mismatch, and the worker stays up doing other work', async () => {
    await system.services.get('sync-worker')!.process.stop();
    const worker = await system.start('sync-worker', {
      PSC_WORKER_SECRET_KEY: randomBytes(32).toString('base64'),
    });
    fake.clearRequests();

    const failed = await sync(ids.get('bearer')!);
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    assert.equal(failed.attempts, 1);
    assert.equal(failed.error?.class, 'worker_key_mismatch');
    assert.match(failed.error?.message ?? '', /PSC_WORKER_SECRET_KEY/);
    assert.deepEqual(fake.requests, [], 'nothing was sent to the platform');

    const other = await sync(openId);
    assert.equal(other.status, 'succeeded', JSON.stringify(other.error));
    assert.equal((await fetch(`${worker.url}/health`)).status, 200);
    const lines = worker.process.lines().join('\n');
    assert.ok(![BEARER, HEADER, QUERY].some((s) => lines.includes(s)), 'a credential in the logs');
  });
});
