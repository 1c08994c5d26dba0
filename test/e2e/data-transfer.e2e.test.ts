import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
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

  it('when records are exported as CSV, then the header holds the mapping columns in the order the platform was saved with, and one row per record', async () => {
    const res = await download('csv');
    assert.equal(res.status, 200);
    const rows = res.text.trimEnd().split('\n');
    // The operator's order, which a read of the platform gives back too (jsonb sorted it by
    // length: name, allTable, canUsage, category, usageTable).
    const columns = Object.keys(boothPlatform(platform.url).resources[0]!.mapping);
    assert.deepEqual(columns, ['name', 'allTable', 'usageTable', 'canUsage', 'category']);
    const stored = await system.api<{ resources: { mapping: Record<string, string> }[] }>(
      `/api/v1/platforms/${platformId}`,
    );
    assert.deepEqual(Object.keys(stored.body.resources[0]!.mapping), columns);
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

  describe('hostile imports: the gateway streams every body with bounded memory', () => {
    const post = async (body: string | Buffer, type: string) => {
      const res = await fetch(
        `${system.gatewayUrl}/api/v1/imports?platformId=${platformId}&resource=booths`,
        {
          method: 'POST',
          headers: { 'x-api-key': system.adminKey, 'content-type': type },
          body,
        },
      );
      return {
        status: res.status,
        body: (await res.json()) as {
          imported?: number;
          error?: {
            code: string;
            message: string;
            details?: {
              failed: number;
              inserted: number;
              errors: { line: number; message: string }[];
            };
          };
        },
      };
    };
    const booth = (name: string, pad = 0) =>
      JSON.stringify({
        boothName: name,
        boothAllTable: 1,
        boothUsageTable: 0,
        note: 'x'.repeat(pad),
      });
    const stillServing = async () => {
      const health = await fetch(`${system.gatewayUrl}/health`);
      assert.equal(health.status, 200);
      const res = await system.api<{ imported: number }>(
        `/api/v1/imports?platformId=${platformId}&resource=booths`,
        { body: [JSON.parse(booth(`after-${Math.random()}`)) as Record<string, unknown>] },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };

    it('when one JSONL line is 3 MB, then that line is reported as over PSC_IMPORT_MAX_ITEM_BYTES and the lines around it are stored', async () => {
      const body = [booth('Around 1'), booth('Huge', 3_000_000), booth('Around 2')].join('\n');
      const res = await post(body, 'application/x-ndjson');
      assert.equal(res.status, 422, JSON.stringify(res.body).slice(0, 500));
      assert.equal(res.body.error?.details?.inserted, 2);
      assert.deepEqual(res.body.error?.details?.errors, [
        { line: 2, message: 'line longer than 1048576 bytes (PSC_IMPORT_MAX_ITEM_BYTES)' },
      ]);
      await stillServing();
    });

    it('when a million JSONL lines are invalid, then every one is counted, the first 1,000 are listed, and the gateway keeps serving', async () => {
      const res = await post(Buffer.from('x\n'.repeat(1_000_000)), 'application/x-ndjson');
      assert.equal(res.status, 422);
      assert.equal(res.body.error?.details?.failed, 1_000_000);
      assert.equal(res.body.error?.details?.errors.length, 1_000);
      assert.deepEqual(res.body.error?.details?.errors[999], {
        line: 1_000,
        message: 'not valid JSON',
      });
      await stillServing();
    });

    it('when a JSON array holds an item over PSC_IMPORT_MAX_ITEM_BYTES, then 413 names the item and the limit, and the items before it are stored', async () => {
      const body = `[${booth('Before big')},${booth('Big', 2_000_000)},${booth('After big')}]`;
      const res = await post(body, 'application/json');
      assert.equal(res.status, 413, JSON.stringify(res.body).slice(0, 500));
      assert.match(
        res.body.error!.message,
        /item 2 of the JSON array is larger than 1048576 bytes \(PSC_IMPORT_MAX_ITEM_BYTES\)/,
      );
      const records = await system.api<{ items: { key: string }[] }>(
        `/api/v1/data/${platformId}/booths?limit=500`,
      );
      assert.ok(records.body.items.some((r) => r.key === 'Before big'));
      await stillServing();
    });

    it('when three 15 MB JSON arrays are imported at once, then all are stored and the gateway stays under its memory cap', async () => {
      const bodies = [1, 2, 3].map((n) =>
        Buffer.from(
          `[${Array.from({ length: 150 }, (_, i) => booth(`Bulk ${n}-${i}`, 100_000)).join(',')}]`,
        ),
      );
      const rss = async () => {
        const text = await (
          await fetch(`${system.gatewayUrl}/metrics`, {
            headers: { 'x-api-key': system.adminKey },
          })
        ).text();
        return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? 0);
      };
      let peak = await rss();
      let running = true;
      const sampler = (async () => {
        while (running) {
          peak = Math.max(peak, await rss());
          await setTimeout(50); // a sampling interval, not a wait for an effect
        }
      })();
      const results = await Promise.all(bodies.map((body) => post(body, 'application/json')));
      running = false;
      await sampler;
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 500));
      assert.deepEqual(
        results.map((r) => r.body.imported),
        [150, 150, 150],
      );
      // The gateway runs with a 128 MB old generation; the bodies alone are 45 MB.
      assert.ok(peak < 256 * 1024 * 1024, `gateway RSS peaked at ${Math.round(peak / 1048576)} MB`);
      await stillServing();
    });
  });
});
