import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, jobFinished } from '../support/platforms.ts';

/** One RFC 4180 line (no line breaks inside cells here) as its cells, quotes removed. */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') {
      cell += '"';
      i += 1;
    } else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

interface ErrorBody {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}

/** Counts down from `n` by tail recursion: harmless on `{}`, endless on n = 1e12. */
const SPIN = '($f := function($k){ $k > 0 ? $f($k - 1) : 0 }; $f(n))';
const ENDLESS = '($f := function($n){ $f($n + 1) }; $f(0))';

describe('hostile input: expressions, headers, templates, CSV and cursors never stop psc', () => {
  let system: System;
  let good: FakePlatform;
  let hostile: FakePlatform;
  let goodId: string;
  let hostileId: string;

  before(async () => {
    good = await startFakePlatform({ collections: { '/booth/all': boothSample(12) } });
    hostile = await startFakePlatform();
    hostile.route('GET', '/numbers', () => ({
      body: { data: [{ id: 'n1', n: 1e12, s: `${'a'.repeat(30_000)}!` }] },
    }));
    hostile.route('GET', '/letters', () => ({
      body: { data: [{ id: 'l1', s: `${'a'.repeat(30_000)}!` }] },
    }));
    hostile.route('GET', '/linky', () => ({
      body: { data: [{ id: 'k1' }] },
      headers: { link: `</linky?page=2>; rel="next"; title="${'x'.repeat(9_000)}"` },
    }));
    hostile.route('GET', '/races/2024-05-01/card', () => ({ body: { runners: [{ id: 'r1' }] } }));
    system = await startSystem({ name: 'hostile' });
    goodId = await register(boothPlatform(good.url));
    hostileId = await register({
      name: `hostile-${Math.random().toString(36).slice(2, 8)}`,
      baseUrl: hostile.url,
      resources: [
        {
          name: 'numbers',
          request: { path: '/numbers' },
          itemsPath: 'data',
          key: 'id',
          mapping: { id: 'id', spin: SPIN },
        },
        {
          name: 'letters',
          request: { path: '/letters' },
          itemsPath: 'data',
          key: 'id',
          mapping: { id: 'id', onlyAs: '$contains(s, /^(a+)+$/)', tail: '$match(s, /a!$/).match' },
        },
        {
          name: 'linky',
          request: { path: '/linky' },
          pagination: { type: 'link' },
          itemsPath: 'data',
          key: 'id',
          mapping: { id: 'id' },
        },
        {
          name: 'card',
          tasks: ['collect'],
          params: ['date'],
          request: { path: '/races/{{date}}/card' },
          itemsPath: 'runners',
          key: 'id',
          mapping: { id: 'id' },
        },
        {
          name: 'probe',
          request: { path: '/numbers' },
          itemsPath: '($f := function($k){ $k > 0 ? $f($k - 1) : 0 }; $f(data[0].n))',
          key: 'id',
          mapping: { id: 'id' },
        },
      ],
    });
  });

  after(async () => {
    await system?.stop();
    await good?.stop();
    await hostile?.stop();
  });

  async function register(body: Record<string, unknown>): Promise<string> {
    const res = await system.api<{ id: string }>('/api/v1/platforms', { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  async function sync(platformId: string, resource: string): Promise<string> {
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobs[0]!.id;
  }

  const finished = (id: string) => jobFinished(system, id);

  /** Another platform's sync runs to the end: the system is still doing its work. */
  async function goodSyncSucceeds(): Promise<void> {
    const job = await finished(await sync(goodId, 'booths'));
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.stats?.fetched, 12);
  }

  /** A GET whose body may be JSON or an export's lines. */
  async function get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${system.gatewayUrl}${path}`, {
      headers: { 'x-api-key': system.adminKey },
    });
    return { status: res.status, text: await res.text() };
  }

  async function allHealthy(): Promise<void> {
    for (const [name, service] of system.services) {
      const res = await fetch(`${service.url}/health`);
      assert.equal(res.status, 200, `${name} /health`);
    }
  }

  describe('mappings and expressions', () => {
    it('when a mapping runs away on platform data, then that sync fails once with mapping_limit naming the field while another platform syncs meanwhile and afterwards', async () => {
      const hostileJob = await sync(hostileId, 'numbers');
      await waitFor(() => hostile.requests.some((r) => r.path === '/numbers'), {
        message: 'hostile page fetched',
      });
      await goodSyncSucceeds();
      const failed = await finished(hostileJob);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.attempts, 1);
      assert.equal(failed.error?.class, 'mapping_limit');
      assert.match(failed.error?.message ?? '', /mapping\.spin: over its budget: ran longer than/);
      await goodSyncSucceeds();
      await allHealthy();
    });

    it('when a regular expression would backtrack catastrophically on platform data, then the sync answers it in linear time', async () => {
      const job = await finished(await sync(hostileId, 'letters'));
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const records = await system.api<{ items: { data: Record<string, unknown> }[] }>(
        `/api/v1/data/${hostileId}/letters`,
      );
      assert.deepEqual(records.body.items[0]?.data, { id: 'l1', onlyAs: false, tail: 'a!' });
    });

    it('when a platform is saved with a runaway expression, then 422 mapping_limit names its path and platform reads keep answering meanwhile', async () => {
      const order: string[] = [];
      const saving = system
        .api<ErrorBody>('/api/v1/platforms', {
          body: boothPlatform(good.url, {
            resources: [{ ...boothPlatform(good.url).resources[0], mapping: { x: ENDLESS } }],
          }),
        })
        .then((res) => {
          order.push('save');
          return res;
        });
      await sleep(100); // let the save reach the registry first
      const read = await system.api(`/api/v1/platforms/${goodId}`);
      order.push('read');
      assert.equal(read.status, 200);
      const saved = await saving;
      assert.equal(saved.status, 422, JSON.stringify(saved.body));
      assert.equal(saved.body.error.code, 'mapping_limit');
      assert.match(saved.body.error.message, /^resources\[0\]\.mapping\.x: over its budget/);
      assert.deepEqual(order, ['read', 'save']);
    });

    it('when a regex needs backtracking or a mapping fails on the resource sample, then the save is refused naming the path', async () => {
      const resource = boothPlatform(good.url).resources[0]!;
      const regex = await system.api<ErrorBody>('/api/v1/platforms', {
        body: boothPlatform(good.url, {
          resources: [{ ...resource, mapping: { twice: '$match(boothName, /(a)\\1/)' } }],
        }),
      });
      assert.equal(regex.status, 422);
      assert.equal(regex.body.error.code, 'validation_failed');
      assert.equal(regex.body.error.details?.[0]?.path, 'body.resources[0].mapping.twice');
      assert.match(regex.body.error.message, /backtracking feature/);

      const sampled = await system.api<ErrorBody>('/api/v1/platforms', {
        body: boothPlatform(good.url, {
          resources: [
            {
              ...resource,
              mapping: { ...resource.mapping, seats: '$number(label)' },
              sample: {
                data: [{ boothName: 'B1', boothAllTable: 3, boothUsageTable: 1, label: 'many' }],
              },
            },
          ],
        }),
      });
      assert.equal(sampled.status, 422, JSON.stringify(sampled.body));
      assert.equal(sampled.body.error.details?.[0]?.path, 'body.resources[0].mapping.seats');
      assert.match(sampled.body.error.message, /fails on the sample/);
    });

    it('when POST /platforms/{id}/test meets an itemsPath that runs away on the platform data, then it answers ok:false with mapping_limit and reads keep answering', async () => {
      const order: string[] = [];
      const testing = system
        .api<{ ok: boolean; problem?: string }>(`/api/v1/platforms/${hostileId}/test`, {
          body: { resource: 'probe' },
        })
        .then((res) => {
          order.push('test');
          return res;
        });
      await sleep(100);
      for (let i = 0; i < 3; i += 1) {
        assert.equal((await system.api(`/api/v1/platforms/${goodId}`)).status, 200);
      }
      order.push('reads');
      const tested = await testing;
      assert.equal(tested.status, 200, JSON.stringify(tested.body));
      assert.equal(tested.body.ok, false);
      assert.match(tested.body.problem ?? '', /^mapping_limit: itemsPath: over its budget/);
      assert.deepEqual(order, ['reads', 'test']);
    });

    it('when a sync-worker gets SIGTERM while a mapping runs away, then it exits 0 within the 8 s grace, and a fresh worker does other work', async () => {
      hostile.clearRequests();
      const jobId = await sync(hostileId, 'numbers');
      await waitFor(() => hostile.requests.some((r) => r.path === '/numbers'), {
        message: 'hostile page fetched',
      });
      const worker = system.services.get('sync-worker')!.process;
      assert.ok(worker.kill('SIGTERM'));
      const exit = await Promise.race([
        worker.exited,
        sleep(8_000).then(() => 'still running after 8 s'),
      ]);
      assert.deepEqual(exit, { code: 0, signal: null }, worker.lines().slice(-10).join('\n'));
      await system.start('sync-worker');
      await goodSyncSucceeds();
      const job = await finished(jobId);
      assert.equal(job.error?.class, 'mapping_limit');
    });
  });

  describe('platform responses', () => {
    it('when a platform sends a Link header over the bound, then that sync fails with link_header_too_large and another platform syncs', async () => {
      const job = await finished(await sync(hostileId, 'linky'));
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.class, 'link_header_too_large');
      assert.match(job.error?.message ?? '', /8192/);
      await goodSyncSucceeds();
    });

    it('when a platform puts NUL bytes in its error text, its records or a collected document, then each job ends at once with a reason PostgreSQL can store, the dead-letter queue lists it, and another platform syncs', async () => {
      // PostgreSQL's text and jsonb refuse U+0000: a reason or record holding one must not
      // leave its job unfinished or loop.
      hostile.route('GET', '/nul-error', () => ({
        body: { ok: false, message: 'broken\u0000here' },
      }));
      hostile.route('GET', '/nul-data', () => ({
        body: { data: [{ id: 'z1', name: 'a\u0000b' }] },
      }));
      const platformId = await register({
        name: `nul-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: hostile.url,
        resources: [
          {
            name: 'nulerror',
            request: { path: '/nul-error' },
            successWhen: 'ok = true',
            errorMessagePath: 'message',
            itemsPath: 'data',
            key: 'id',
            mapping: { id: 'id' },
          },
          {
            name: 'nuldata',
            request: { path: '/nul-data' },
            itemsPath: 'data',
            key: 'id',
            mapping: { id: 'id', name: 'name' },
          },
        ],
      });
      const reported = await finished(await sync(platformId, 'nulerror'));
      assert.equal(reported.status, 'failed', JSON.stringify(reported));
      assert.equal(reported.error?.class, 'upstream_error');
      assert.equal(reported.error?.message, 'platform reported an error: broken\ufffdhere');

      // Not retried as if the database could take it next time: refused once, the field named.
      const data = await finished(await sync(platformId, 'nuldata'));
      assert.deepEqual([data.status, data.attempts], ['failed', 1], JSON.stringify(data));
      assert.equal(data.error?.class, 'unstorable_data');
      assert.equal(
        data.error?.message,
        'mapping.name: holds a NUL character (U+0000), which PostgreSQL cannot store',
      );

      // A collected document holding one is refused the same way.
      hostile.route('GET', '/races/2024-05-09/card', () => ({
        body: { runners: [{ id: 'r9', horse: 'na\u0000me' }] },
      }));
      const run = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId: hostileId, resource: 'card', params: { date: '2024-05-09' } },
      });
      assert.equal(run.status, 202, JSON.stringify(run.body));
      const collected = await finished(run.body.jobId);
      assert.deepEqual(
        [collected.status, collected.attempts, collected.error?.class],
        ['failed', 1, 'unstorable_data'],
        JSON.stringify(collected),
      );
      assert.match(collected.error?.message ?? '', /^document\[0\]\.horse: holds a NUL/);

      const { body: dlq } = await system.api<{ items: { jobId: string }[] }>(
        `/api/v1/dlq?platformId=${platformId}`,
      );
      assert.ok(
        dlq.items.some((d) => d.jobId === reported.id),
        'the failed job is a dead letter',
      );
      await goodSyncSucceeds();
      await allHealthy();
    });

    it("when a platform puts lone UTF-16 surrogates in its error text, a collected document or a fan-out index entry, or nests a document 20,000 levels deep, then each job ends at once with a reason PostgreSQL can store, the worker's log lines about it are kept, and another platform syncs", async () => {
      // "\ud800" is valid JSON and JSON.parse keeps it, but PostgreSQL's jsonb refuses it: the
      // ledger could not store a job's outcome holding one, nor the collector a document.
      hostile.route('GET', '/lone-error', () => ({
        body: { ok: false, message: 'broken\ud800here' },
      }));
      // The 300-character cut of an error text splits this pair, leaving a lone half.
      hostile.route('GET', '/split-error', () => ({
        body: { ok: false, message: `${'x'.repeat(299)}\ud83d\ude00` },
      }));
      hostile.route('GET', '/races/2024-05-10/card', () => ({
        body: { runners: [{ id: 'r10', horse: 'na\udc00me' }] },
      }));
      hostile.route('GET', '/index/lone', () => ({
        body: { entries: [{ n: 1 }, { n: 'x\ud800' }] },
      }));
      hostile.route('GET', '/lone-child', () => ({ body: { ok: true } }));
      // 20,000 levels: JSON.parse takes them, JSON.stringify and PostgreSQL's jsonb do not.
      const deep = `{"runners":[{"id":"r11","form":${'['.repeat(20_000)}${']'.repeat(20_000)}}]}`;
      const raw = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(deep);
      });
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
      try {
        const errorFrom = (name: string, path: string) => ({
          name,
          request: { path },
          successWhen: 'ok = true',
          errorMessagePath: 'message',
          itemsPath: 'data',
          key: 'id',
          mapping: { id: 'id' },
        });
        const platformId = await register({
          name: `lone-${Math.random().toString(36).slice(2, 8)}`,
          baseUrl: hostile.url,
          resources: [
            errorFrom('loneerror', '/lone-error'),
            errorFrom('spliterror', '/split-error'),
            {
              name: 'lonecard',
              tasks: ['collect'],
              request: { path: '/races/2024-05-10/card' },
              itemsPath: 'runners',
              key: 'id',
              mapping: { id: 'id' },
            },
            {
              name: 'loneindex',
              tasks: ['collect'],
              request: { path: '/index/lone' },
              itemsPath: 'entries',
              key: 'n',
              mapping: { n: 'n' },
              fanOut: { entriesPath: 'entries', request: { path: '/lone-child' } },
            },
          ],
        });
        const deepId = await register({
          name: `deep-${Math.random().toString(36).slice(2, 8)}`,
          baseUrl: `http://127.0.0.1:${(raw.address() as AddressInfo).port}`,
          resources: [
            {
              name: 'deepcard',
              tasks: ['collect'],
              request: { path: '/card' },
              itemsPath: 'runners',
              key: 'id',
              mapping: { id: 'id' },
            },
          ],
        });
        const outcome = async (jobId: string) => {
          const job = await finished(jobId);
          return [job.status, job.attempts, job.error?.class, job.error?.message];
        };
        const collect = async (id: string, resource: string) => {
          const run = await system.api<{ jobId: string }>('/api/v1/collections', {
            body: { platformId: id, resource, params: {} },
          });
          assert.equal(run.status, 202, JSON.stringify(run.body));
          return outcome(run.body.jobId);
        };

        const loneError = await sync(platformId, 'loneerror');
        assert.deepEqual(await outcome(loneError), [
          'failed',
          1,
          'upstream_error',
          'platform reported an error: broken\ufffdhere',
        ]);
        // The worker's lines about it reach the logs, its warning with the text it can keep:
        // shipped in one batch with other lines, which a refused one took with it.
        type Logs = {
          items: { service: string; message: string; fields: { reason?: string } }[];
        };
        await waitFor(
          async () => {
            const { body } = await system.api<Logs>(`/api/v1/logs?jobId=${loneError}&level=info`);
            return body.items.find((e) => e.service === 'sync-worker');
          },
          { timeoutMs: 15_000, intervalMs: 200, message: "the worker's line in the job's log" },
        );
        const { body: warnings } = await system.api<Logs>(
          '/api/v1/logs?service=sync-worker&level=warn&limit=500',
        );
        assert.ok(
          warnings.items.some(
            (e) =>
              e.message === 'message failed' &&
              e.fields.reason === 'upstream_error: platform reported an error: broken\ufffdhere',
          ),
          JSON.stringify(warnings.items.map((e) => e.fields.reason)),
        );
        assert.deepEqual(await outcome(await sync(platformId, 'spliterror')), [
          'failed',
          1,
          'upstream_error',
          `platform reported an error: ${'x'.repeat(299)}\ufffd`,
        ]);
        const lone = (code: string) =>
          `holds a lone UTF-16 surrogate (U+${code}), which PostgreSQL cannot store`;
        assert.deepEqual(await collect(platformId, 'lonecard'), [
          'failed',
          1,
          'unstorable_data',
          `document[0].horse: ${lone('DC00')}`,
        ]);
        assert.deepEqual(await collect(platformId, 'loneindex'), [
          'failed',
          1,
          'unstorable_data',
          `index[1].n: ${lone('D800')}`,
        ]);
        assert.deepEqual(await collect(deepId, 'deepcard'), [
          'failed',
          1,
          'unstorable_data',
          'document[0].form[0][0]: nests deeper than 1000 levels, more than psc stores',
        ]);
      } finally {
        raw.closeAllConnections();
        raw.close();
      }
      await goodSyncSucceeds();
      await allHealthy();
    });
  });

  describe('collect request templates', () => {
    it('when a collect run or a platform test puts .. into a path param, then it fails with bad_param and nothing outside the resource path is requested', async () => {
      hostile.clearRequests();
      const run = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId: hostileId, resource: 'card', params: { date: '..' } },
      });
      assert.equal(run.status, 202, JSON.stringify(run.body));
      const job = await finished(run.body.jobId);
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.class, 'bad_param');
      assert.match(job.error?.message ?? '', /"date"/);

      const tested = await system.api<ErrorBody>(`/api/v1/platforms/${hostileId}/test`, {
        body: { resource: 'card', params: { date: '..' } },
      });
      assert.equal(tested.status, 422);
      assert.equal(tested.body.error.code, 'bad_param');

      const encoded = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId: hostileId, resource: 'card', params: { date: '..%2f..%2fadmin' } },
      });
      assert.equal((await finished(encoded.body.jobId)).status, 'failed'); // a 404 upstream
      assert.ok(
        hostile.requests.every((r) => r.path.startsWith('/races/')),
        JSON.stringify(hostile.requests.map((r) => r.path)),
      );

      const fine = await system.api<{ jobId: string }>('/api/v1/collections', {
        body: { platformId: hostileId, resource: 'card', params: { date: '2024-05-01' } },
      });
      assert.equal((await finished(fine.body.jobId)).status, 'succeeded');
    });
  });

  describe('credentials', () => {
    it("when a platform's baseUrl moves to another origin without its credential, then 422 credential_required, and with it the change is saved", async () => {
      const id = await register(
        boothPlatform(good.url, { auth: { type: 'bearer', token: 'tok-secret-1' } }),
      );
      const port = new URL(good.url).port;
      const elsewhere = `http://localhost:${port}`;
      const patched = await system.api<ErrorBody>(`/api/v1/platforms/${id}`, {
        method: 'PATCH',
        body: { baseUrl: elsewhere },
      });
      assert.equal(patched.status, 422, JSON.stringify(patched.body));
      assert.equal(patched.body.error.code, 'credential_required');
      assert.equal(patched.body.error.details?.[0]?.path, 'body.auth.token');
      assert.doesNotMatch(JSON.stringify(patched.body), /tok-secret/);

      const current = await system.api<Record<string, unknown>>(`/api/v1/platforms/${id}`);
      const replaced = await system.api<ErrorBody>(`/api/v1/platforms/${id}`, {
        method: 'PUT',
        body: { ...current.body, baseUrl: `${elsewhere}/` },
      });
      assert.equal(replaced.status, 422);
      assert.equal(replaced.body.error.code, 'credential_required');

      // A path change on the same origin keeps the credential.
      const samePlace = await system.api(`/api/v1/platforms/${id}`, {
        method: 'PATCH',
        body: { baseUrl: `${good.url}/` },
      });
      assert.equal(samePlace.status, 200, JSON.stringify(samePlace.body));
      const resent = await system.api<{ baseUrl: string; auth: unknown }>(
        `/api/v1/platforms/${id}`,
        {
          method: 'PATCH',
          body: { baseUrl: elsewhere, auth: { type: 'bearer', token: 'tok-secret-2' } },
        },
      );
      assert.equal(resent.status, 200, JSON.stringify(resent.body));
      assert.equal(resent.body.baseUrl, elsewhere);
      assert.deepEqual(resent.body.auth, { type: 'bearer', token: '***' });
    });

    it('when a resource puts a credential in its static headers, then the save is refused pointing to auth', async () => {
      const resource = boothPlatform(good.url).resources[0]!;
      for (const header of ['Authorization', 'X-Api-Key', 'X-Session-Token']) {
        const res = await system.api<ErrorBody>('/api/v1/platforms', {
          body: boothPlatform(good.url, {
            resources: [
              { ...resource, request: { ...resource.request, headers: { [header]: 'k-123' } } },
            ],
          }),
        });
        assert.equal(res.status, 422, header);
        assert.equal(res.body.error.code, 'validation_failed');
        assert.equal(
          res.body.error.details?.[0]?.path,
          `body.resources[0].request.headers.${header}`,
        );
        assert.match(res.body.error.message, /put it in auth/);
        assert.doesNotMatch(JSON.stringify(res.body), /k-123/);
      }
      const plain = await system.api('/api/v1/platforms', {
        body: boothPlatform(good.url, {
          resources: [
            { ...resource, request: { ...resource.request, headers: { 'X-Tenant': 'a' } } },
          ],
        }),
      });
      assert.equal(plain.status, 201);
    });
  });

  describe('CSV export', () => {
    it('when synced data starts with a formula character, then the CSV cell is escaped and the JSONL line is the data as is', async () => {
      const formulas = ['=HYPERLINK("http://x.test","x")', '+1+1', '-2+3', '@SUM(A1)', '\t=1'];
      const imported = await system.api(`/api/v1/imports?platformId=${goodId}&resource=booths`, {
        body: formulas.map((boothName, i) => ({
          boothName,
          boothAllTable: -i - 1,
          boothUsageTable: 0,
        })),
      });
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      const download = async (format: string) =>
        (
          await fetch(`${system.gatewayUrl}/api/v1/data/${goodId}/booths/export?format=${format}`, {
            headers: { 'x-api-key': system.adminKey },
          })
        ).text();
      const rows = (await download('csv')).trimEnd().split('\n').map(parseCsvLine);
      const header = rows[0]!;
      for (const [i, formula] of formulas.entries()) {
        const row = rows.find((cells) => cells[0] === `'${formula}`);
        assert.ok(row, `a row keyed '${formula}`);
        assert.equal(row[header.indexOf('name')], `'${formula}`);
        assert.equal(row[header.indexOf('allTable')], String(-i - 1)); // numbers stay numbers
      }
      for (const cells of rows) {
        for (const cell of cells) assert.doesNotMatch(cell, /^[=+@\t\r]|^-[^0-9]/, cell);
      }
      const jsonl = (await download('jsonl'))
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { key: string });
      assert.deepEqual(
        formulas.map((f) => jsonl.some((l) => l.key === f)),
        formulas.map(() => true),
      );
    });
  });

  describe('cursors', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const BAD = [
      '!!not-base64!!',
      b64('{"key":{"a":1}}'),
      b64('[1,2]'),
      b64('"a\\u0000b"'),
      b64('\u0000'),
      'x'.repeat(400),
    ];

    it('when a paged route gets a cursor it never handed out, then it answers 400 bad_request with the envelope and the next good request works', async () => {
      const routes = [
        '/api/v1/platforms',
        '/api/v1/platforms/active',
        `/api/v1/data/${goodId}/booths`,
        '/api/v1/validations',
        '/api/v1/jobs',
        '/api/v1/dlq',
      ];
      const wrong: string[] = [];
      for (const route of routes) {
        for (const cursor of BAD) {
          const res = await get(`${route}?cursor=${encodeURIComponent(cursor)}`);
          if (res.status !== 400 || !res.text.includes('"code":"bad_request"')) {
            wrong.push(`${route} ${cursor} → ${res.status} ${res.text.slice(0, 100)}`);
          }
        }
        assert.equal((await get(route)).status, 200, route);
      }
      assert.deepEqual(wrong, []);
      await allHealthy();
    });
  });
});
