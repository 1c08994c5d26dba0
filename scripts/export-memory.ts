/**
 * Export memory check (issue 6): seeds N records (default 1,000,000) straight into sync.records,
 * exports them as JSONL and CSV through the gateway, checks row count and a sample row, and
 * prints the gateway's peak RSS (VmHWM), which must stay under 200 MB. A measurement, not a test:
 *   node scripts/export-memory.ts [records]
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { startSystem } from '../test/support/system.ts';
import { boothPlatform } from '../test/support/platforms.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const system = await startSystem({
  name: 'export-memory',
  services: ['platform-registry', 'sync-worker', 'gateway'],
});
try {
  const created = await system.api<{ id: string }>('/api/v1/platforms', {
    body: boothPlatform('http://127.0.0.1:9'),
  });
  const platformId = created.body.id;
  const db = new pg.Client({ connectionString: system.env.databaseUrl });
  await db.connect();
  await db.query(
    `insert into sync.records (platform_id, resource, key, data, hash)
     select $1, 'booths', lpad(i::text, 8, '0'),
            jsonb_build_object('name', 'Booth ' || i, 'allTable', i % 50, 'usageTable', i % 7, 'canUsage', true, 'category', 'BOOTH'),
            md5(i::text)
       from generate_series(1, $2) as i`,
    [platformId, total],
  );
  await db.end();
  const pid = system.services.get('gateway')!.process.pid!;
  for (const format of ['jsonl', 'csv']) {
    const started = Date.now();
    const res = await fetch(
      `${system.gatewayUrl}/api/v1/data/${platformId}/booths/export?format=${format}`,
      {
        headers: { 'x-api-key': system.adminKey },
      },
    );
    let lines = 0;
    let header = '';
    let first = '';
    let last = '';
    let tail = '';
    for await (const chunk of res.body!) {
      const text = tail + Buffer.from(chunk).toString('utf8');
      const parts = text.split('\n');
      tail = parts.pop() ?? '';
      for (const line of parts) {
        if (format === 'csv' && lines === 0) header = line;
        else if (!first) first = line;
        last = line;
        lines += 1;
      }
    }
    const expected = format === 'csv' ? total + 1 : total;
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const peakMb = Number(hwm) / 1024;
    // Exact content of the first and last record, as seeded above; CSV columns in header order.
    const seeded = (i: number): Record<string, unknown> => ({
      key: String(i).padStart(8, '0'),
      name: `Booth ${i}`,
      allTable: i % 50,
      usageTable: i % 7,
      canUsage: true,
      category: 'BOOTH',
    });
    const sameRecord = (line: string, i: number): boolean => {
      const expected = seeded(i);
      if (format === 'jsonl') return isDeepStrictEqual(JSON.parse(line), expected);
      const columns = header.split(',');
      return (
        [...columns].sort().join() === Object.keys(expected).sort().join() &&
        line === columns.map((c) => String(expected[c])).join(',')
      );
    };
    const contentOk = sameRecord(first, 1) && sameRecord(last, total);
    console.log(
      `${format}: ${lines} lines (expected ${expected}) in ${((Date.now() - started) / 1000).toFixed(1)} s; first and last record ${contentOk ? 'as seeded' : `WRONG: ${first.slice(0, 80)} … ${last.slice(0, 80)}`}; gateway peak RSS ${peakMb.toFixed(0)} MB`,
    );
    if (lines !== expected || !contentOk || peakMb >= 200) process.exitCode = 1;
  }
} finally {
  await system.stop();
}
