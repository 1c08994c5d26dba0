import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { boothSample, startFakePlatform, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform } from '../support/platforms.ts';

describe('data transfer: /api/v1/data/{platformId}/{resource}/export and /api/v1/imports', () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(25) } });
    system = await startSystem({ name: 'data-transfer' });
    platformId = (
      await system.api<{ id: string }>('/api/v1/platforms', { body: boothPlatform(platform.url) })
    ).body.id;
    // Seeded through the import path itself, so this file does not depend on a sync run.
    const seeded = await system.api(`/api/v1/imports?platformId=${platformId}&resource=booths`, {
      body: boothSample(25),
    });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  const download = async (format: string) => {
    const res = await fetch(
      `${system.gatewayUrl}/api/v1/data/${platformId}/booths/export?format=${format}`,
      {
        headers: { 'x-api-key': system.adminKey },
      },
    );
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  it('when records are exported as JSONL, then every record is one line with its key and mapped fields', async () => {
    const res = await download('jsonl');
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /ndjson/);
    const lines = res.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 25);
    assert.equal(new Set(lines.map((l) => l.key)).size, 25);
    const source = boothSample(1)[0]!;
    assert.deepEqual(
      lines.find((l) => l.key === 'Booth 1'),
      {
        key: 'Booth 1',
        name: 'Booth 1',
        allTable: source.boothAllTable,
        usageTable: source.boothUsageTable,
        canUsage: source.boothUsageTable < source.boothAllTable,
        category: 'BOOTH',
      },
    );
  });

  it('when records are exported as CSV, then the header holds the mapping columns and one row per record', async () => {
    const res = await download('csv');
    assert.equal(res.status, 200);
    const rows = res.text.trimEnd().split('\n');
    // Columns follow the mapping as the registry returns it.
    const stored = await system.api<{ resources: { mapping: Record<string, string> }[] }>(
      `/api/v1/platforms/${platformId}`,
    );
    const columns = Object.keys(stored.body.resources[0]!.mapping);
    assert.deepEqual([...columns].sort(), [
      'allTable',
      'canUsage',
      'category',
      'name',
      'usageTable',
    ]);
    assert.equal(rows[0], ['key', ...columns].join(','));
    assert.equal(rows.length, 26);
    const source = boothSample(1)[0]!;
    const expected: Record<string, string> = {
      name: 'Booth 1',
      allTable: String(source.boothAllTable),
      usageTable: String(source.boothUsageTable),
      canUsage: String(source.boothUsageTable < source.boothAllTable),
      category: 'BOOTH',
    };
    assert.equal(
      rows.find((r) => r.startsWith('Booth 1,')),
      ['Booth 1', ...columns.map((c) => expected[c])].join(','),
    );
  });

  it('when an import has a bad line, then the report names it and the good lines are stored', async () => {
    const jsonl = [
      JSON.stringify({ boothName: 'Imported A', boothAllTable: 5, boothUsageTable: 1 }),
      '{"boothName": "broken",',
      JSON.stringify({ boothName: 'Imported B', boothAllTable: 2, boothUsageTable: 2 }),
      JSON.stringify({ boothAllTable: 2 }),
    ].join('\n');
    const res = await fetch(
      `${system.gatewayUrl}/api/v1/imports?platformId=${platformId}&resource=booths`,
      {
        method: 'POST',
        headers: { 'x-api-key': system.adminKey, 'content-type': 'application/x-ndjson' },
        body: jsonl,
      },
    );
    const body = (await res.json()) as {
      error: {
        code: string;
        message: string;
        details: { inserted: number; errors: { line: number }[] };
      };
    };
    assert.equal(res.status, 422);
    assert.equal(body.error.code, 'import_incomplete');
    assert.deepEqual(
      body.error.details.errors.map((e) => e.line),
      [2, 4],
    );
    assert.equal(body.error.details.inserted, 2);
    const records = await system.api<{ items: { key: string; data: Record<string, unknown> }[] }>(
      `/api/v1/data/${platformId}/booths?limit=500`,
    );
    const imported = records.body.items.find((r) => r.key === 'Imported A');
    assert.deepEqual(imported?.data, {
      name: 'Imported A',
      allTable: 5,
      usageTable: 1,
      canUsage: true,
      category: 'BOOTH',
    });
    assert.ok(records.body.items.some((r) => r.key === 'Imported B'));
  });

  it('when a JSON array is imported, then its items are stored', async () => {
    const res = await system.api<{ imported: number; failed: number }>(
      `/api/v1/imports?platformId=${platformId}&resource=booths`,
      { body: [{ boothName: 'Imported C', boothAllTable: 1, boothUsageTable: 0 }] },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      imported: 1,
      inserted: 1,
      updated: 0,
      unchanged: 0,
      failed: 0,
      errors: [],
    });
  });
});
