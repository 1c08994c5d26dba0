import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform } from '../support/platforms.ts';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}
interface ImportFailure {
  error: { code: string; details: { failed: number; errors: { line: number; message: string }[] } };
}

/** What a newcomer meets first: `/data` answers, an export that re-imports, workers that show. */
describe('newcomer path: /data 404s, export → import, workersAlive', { timeout: 240_000 }, () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(6) } });
    system = await startSystem({ name: 'newcomer' });
    const definition = boothPlatform(platform.url);
    const [booths] = definition.resources;
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        ...definition,
        resources: [
          {
            ...booths,
            children: [
              { name: 'menus', itemsPath: 'menus', key: 'menuName', mapping: { name: 'menuName' } },
            ],
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
    const seeded = await system.api(`/api/v1/imports?platformId=${platformId}&resource=booths`, {
      body: boothSample(6),
    });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  const postJsonl = async (query: string, body: string) => {
    const res = await fetch(`${system.gatewayUrl}/api/v1/imports?${query}`, {
      method: 'POST',
      headers: { 'x-api-key': system.adminKey, 'content-type': 'application/x-ndjson' },
      body,
    });
    return { status: res.status, body: await res.json() };
  };
  const exportJsonl = async () => {
    const res = await fetch(`${system.gatewayUrl}/api/v1/data/${platformId}/booths/export`, {
      headers: { 'x-api-key': system.adminKey },
    });
    assert.equal(res.status, 200);
    return res.text();
  };

  it('when /data names a platform or resource psc does not know, then it answers 404 with the error envelope instead of an empty list', async () => {
    const unknownPlatform = '00000000-0000-4000-8000-000000000000';
    for (const path of [
      `/api/v1/data/${unknownPlatform}/booths`,
      `/api/v1/data/${platformId}/nothing-here`,
      `/api/v1/data/${platformId}/booths.nothing`,
      `/api/v1/data/${unknownPlatform}/booths/export`,
      `/api/v1/data/${platformId}/nothing-here/export?format=csv`,
    ] as const) {
      const res = await system.api<ErrorBody>(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'not_found', path);
    }
    const unknownResource = await system.api<ErrorBody>(`/api/v1/data/${platformId}/nothing-here`);
    assert.match(unknownResource.body.error.message, /nothing-here/);
    // Known ones still answer, the child collection included, even while empty.
    const booths = await system.api<{ items: unknown[] }>(`/api/v1/data/${platformId}/booths`);
    assert.equal(booths.status, 200);
    assert.equal(booths.body.items.length, 6);
    const menus = await system.api<{ items: unknown[] }>(`/api/v1/data/${platformId}/booths.menus`);
    assert.equal(menus.status, 200);
  });

  it('when an export’s JSONL is imported back with shape=records, then every line is taken as it is and an edited line updates its record', async () => {
    const exported = await exportJsonl();
    const same = await postJsonl(
      `platformId=${platformId}&resource=booths&shape=records`,
      exported,
    );
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual(same.body, {
      imported: 6,
      inserted: 0,
      updated: 0,
      unchanged: 6,
      failed: 0,
      errors: [],
    });

    const edited = exported.replace(/"name": ?"Booth 2"/, '"name": "Booth Two"');
    assert.notEqual(edited, exported);
    const update = await postJsonl(
      `platformId=${platformId}&resource=booths&shape=records`,
      edited,
    );
    assert.equal(update.status, 200, JSON.stringify(update.body));
    assert.equal((update.body as { updated: number }).updated, 1);
    const records = await system.api<{ items: { key: string; data: { name: string } }[] }>(
      `/api/v1/data/${platformId}/booths`,
    );
    assert.equal(records.body.items.find((r) => r.key === 'Booth 2')?.data.name, 'Booth Two');
    // The export after the round trip is the edited file, line for line.
    const lines = (text: string) =>
      text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lines(await exportJsonl()), lines(edited));
  });

  it('when an export’s JSONL is imported as upstream items (the default), then the 422 names the key field, the expected shape and shape=records', async () => {
    const res = await postJsonl(`platformId=${platformId}&resource=booths`, await exportJsonl());
    const body = res.body as ImportFailure;
    assert.equal(res.status, 422);
    assert.equal(body.error.code, 'import_incomplete');
    assert.equal(body.error.details.failed, 6);
    const message = body.error.details.errors[0]!.message;
    assert.match(message, /^key: the resource's key \(boothName\) found nothing/);
    assert.match(message, /shape=records/);
  });

  it('when a records line carries a field the mapping does not have, then its line is refused naming that field and the expected fields', async () => {
    const res = await postJsonl(
      `platformId=${platformId}&resource=booths&shape=records`,
      `${JSON.stringify({ key: 'Booth X', name: 'X', colour: 'red' })}\n`,
    );
    const body = res.body as ImportFailure;
    assert.equal(res.status, 422);
    assert.deepEqual(
      body.error.details.errors.map((e) => e.line),
      [1],
    );
    assert.match(
      body.error.details.errors[0]!.message,
      /^colour: not a mapped field; expected an export line \{"key", name, allTable/,
    );
    const records = await system.api<{ items: { key: string }[] }>(
      `/api/v1/data/${platformId}/booths`,
    );
    assert.ok(!records.body.items.some((r) => r.key === 'Booth X'));
  });

  it('when the sync-worker runs, then the platform’s sync status counts it in workersAlive, and once it stops the count drops to 0 and comes back with it', async () => {
    const workersAlive = async () =>
      (
        await system.api<{ workersAlive: number | null }>(
          `/api/v1/platforms/${platformId}/sync/status`,
        )
      ).body.workersAlive;
    assert.equal(await workersAlive(), 1);

    await system.services.get('sync-worker')!.process.stop();
    await waitFor(async () => (await workersAlive()) === 0, {
      timeoutMs: 20_000,
      message: 'workersAlive 0 after the sync-worker stopped',
    });

    await system.start('sync-worker');
    await waitFor(async () => (await workersAlive()) === 1, {
      timeoutMs: 20_000,
      message: 'workersAlive 1 after the sync-worker started again',
    });
  });
});
