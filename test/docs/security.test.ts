import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_PARAMS_BYTES,
  MAX_PRIORITY,
  MAX_WEBHOOKS,
  pageRequest,
  pagination,
  platformInput,
} from '../../libs/contracts/src/index.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../libs/messaging/src/publisher.ts';
import { MAX_LINK_HEADER_CHARS, MAX_STORED_DEPTH } from '../../libs/platform-http/src/index.ts';
import { loadConfig as collectorConfig } from '../../services/collector/src/config.ts';
import { EXPORT_PAGE_CHARS } from '../../services/collector/src/domain/export-page.ts';
import { loadConfig as gatewayConfig } from '../../services/gateway/src/config.ts';
import { loadConfig as registryConfig } from '../../services/platform-registry/src/config.ts';
import { loadConfig as schedulerConfig } from '../../services/scheduler/src/config.ts';
import { MAX_KEY_LENGTH } from '../../services/sync-worker/src/domain/mapping.ts';
import { citationTests, readDocument, tableRows } from './support/doc-claims.ts';

const KEY = Buffer.alloc(32, 1).toString('base64');
const WORKER_KEY = Buffer.alloc(32, 2).toString('base64');
const ENV = {
  AMQP_URL: 'amqp://127.0.0.1',
  DATABASE_URL: 'postgres://127.0.0.1/x',
  PSC_SECRET_KEY: KEY,
  PSC_WORKER_SECRET_KEY: WORKER_KEY,
};
const gateway = gatewayConfig(ENV);
const registry = registryConfig(ENV);
const scheduler = schedulerConfig(ENV);
// The sync-worker reads the same worker settings (libs/job-runner) as the collector.
const worker = collectorConfig(ENV);

const MIB = 1024 * 1024;
const thousands = (n: number) => n.toLocaleString('en-US');
const platform = platformInput.parse({
  name: 'p',
  baseUrl: 'https://example.com',
  resources: [{ name: 'r', request: { path: '/' }, itemsPath: '$', key: 'id', mapping: {} }],
});
const maxPages = (v: unknown) =>
  pagination.safeParse({ type: 'page', ...(v === undefined ? {} : { maxPages: v }) });

/** Whether a setting takes `low` and `high` and refuses the values just outside them. */
function takesRange(accepts: (value: number) => boolean, low: number, high: number): boolean {
  return accepts(low) && accepts(high) && !accepts(low - 1) && !accepts(high + 1);
}
const accepted = (load: (env: Record<string, string>) => unknown, name: string) => (v: number) => {
  try {
    load({ ...ENV, [name]: String(v) });
    return true;
  } catch {
    return false;
  }
};

/**
 * The Default cell of each row of the limits tables whose figure is in the code, and what the
 * code makes of it: the text the cell must read, and what the setting takes, to check against the
 * `(low–high)` range the row gives.
 */
const FIGURES: {
  table: string;
  limit: string;
  cell: string;
  range?: (value: number) => boolean;
}[] = [
  {
    table: '### Requests and the API',
    limit: 'Request body',
    cell: `${gateway.bodyLimitBytes / MIB} MiB`,
  },
  {
    table: '### Requests and the API',
    limit: 'Import line',
    cell: `${gateway.importMaxItemBytes / MIB} MiB`,
  },
  {
    table: '### Requests and the API',
    limit: 'Requests per API key',
    cell: `${gateway.rateLimitPerMinute} / minute`,
  },
  {
    table: '### Requests and the API',
    limit: 'Failed authentications',
    cell: `${gateway.authFailuresPerMinute} / minute`,
  },
  {
    table: '### Requests and the API',
    limit: 'Request/reply wait',
    cell: `${gateway.rpcTimeoutMs} ms`,
  },
  {
    table: '### Requests and the API',
    limit: 'Page size',
    cell: `${pageRequest.limit.parse(undefined)} (1–500)`,
    range: (v) => pageRequest.limit.safeParse(v).success,
  },
  {
    table: '### Requests and the API',
    limit: 'Export page',
    cell: `~${EXPORT_PAGE_CHARS / 1024} K characters per reply`,
  },
  {
    table: '### Expressions',
    limit: 'Time per evaluation',
    cell: `${worker.expressionBudget.timeoutMs} ms`,
    range: accepted(collectorConfig, 'PSC_EXPRESSION_TIMEOUT_MS'),
  },
  {
    table: '### Expressions',
    limit: 'Nesting depth',
    cell: `${worker.expressionBudget.maxDepth}`,
    range: accepted(collectorConfig, 'PSC_EXPRESSION_MAX_DEPTH'),
  },
  {
    table: '### Expressions',
    limit: 'Items in one sequence',
    cell: thousands(worker.expressionBudget.maxSequence),
    range: accepted(collectorConfig, 'PSC_EXPRESSION_MAX_SEQUENCE'),
  },
  {
    table: '### Expressions',
    limit: 'Memory one evaluation',
    cell: `${worker.expressionBudget.maxOutputBytes / MIB} MiB`,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Response body',
    cell: `${worker.fetchMaxBytes / MIB} MiB, a platform's \`maxResponseBytes\` may lower it (≤ 256 MiB)`,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Call timeout',
    cell: `${platform.timeoutMs} ms per platform (100–120000)`,
    range: (v) => platformInput.shape.timeoutMs.safeParse(v).success,
  },
  {
    table: '### Platform calls and jobs',
    limit: '`Link` header read',
    cell: `${MAX_LINK_HEADER_CHARS} characters`,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Nesting of stored platform data',
    cell: `${MAX_STORED_DEPTH} levels`,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Pages per job',
    cell: `${(maxPages(undefined).data as { maxPages: number }).maxPages} (1–100000)`,
    range: (v) => maxPages(v).success,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Job duration',
    cell: `${worker.jobTimeoutMs / 60_000} min from its delivery to the worker`,
  },
  { table: '### Platform calls and jobs', limit: 'Tries per job', cell: `${worker.maxAttempts}` },
  {
    table: '### Platform calls and jobs',
    limit: 'Deliveries that died',
    cell: `${worker.crashLoopLimit}`,
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Jobs run at once',
    cell: `${worker.jobs.concurrency}`,
  },
  { table: '### Platform calls and jobs', limit: 'Jobs held', cell: `${worker.jobs.prefetch}` },
  {
    table: '### Platform calls and jobs',
    limit: 'Wait of a job next in line',
    cell: `${worker.jobs.handBackAfterMs} ms (100–600000)`,
    range: accepted(collectorConfig, 'PSC_HAND_BACK_MS'),
  },
  {
    table: '### Platform calls and jobs',
    limit: 'Breaker',
    cell: `opens at ${platform.breaker.errorThresholdPercentage} % errors over ${platform.breaker.volumeThreshold} calls, ${platform.breaker.resetTimeoutMs / 1000} s`,
  },
  {
    table: '### Messages',
    limit: 'Message body',
    cell: `${DEFAULT_MAX_MESSAGE_BYTES / MIB} MiB`,
  },
  {
    table: '### Messages',
    limit: 'Job params',
    cell: `${MAX_PARAMS_BYTES / 1024} KiB as JSON`,
  },
  { table: '### Messages', limit: 'Record key', cell: `${thousands(MAX_KEY_LENGTH)} characters` },
  {
    table: '### Messages',
    limit: 'Children of one fan-out',
    cell: thousands(worker.fanOutMaxChildren),
  },
  { table: '### Messages', limit: 'Message priority', cell: `0–${MAX_PRIORITY + 1}` },
  {
    table: '### Messages',
    limit: 'Platform reuse',
    cell: `${worker.platformCacheTtlMs / 1000} s, dropped at once on \`platform.updated\`/\`deleted\``,
  },
  { table: '### Webhooks', limit: 'Subscriptions', cell: `${MAX_WEBHOOKS}` },
  {
    table: '### Webhooks',
    limit: "Receiver's answer",
    cell: `${registry.webhooks.timeoutMs} ms, 64 KiB read, redirects not followed`,
  },
  {
    table: '### Webhooks',
    limit: 'Attempts per delivery',
    cell: `${registry.webhooks.maxAttempts}, full-jitter backoff up to ${registry.webhooks.retryMaxMs / 3_600_000} h`,
  },
  {
    table: '### Webhooks',
    limit: 'Failed attempts in a row',
    cell: `${registry.webhooks.disableAfter}`,
  },
  {
    table: '### Webhooks',
    limit: 'Delivery log',
    cell: `finished deliveries ${registry.webhooks.retentionDays} days`,
  },
  {
    table: '### Stored history',
    limit: 'Job ledger',
    cell: `${scheduler.retention.keepMs / 86_400_000} days`,
  },
  {
    table: '### Stored history',
    limit: "Workers' records",
    cell: `${worker.jobRetentionMs / 86_400_000} days`,
  },
  {
    table: '### Stored history',
    limit: 'Audit log',
    cell: `${gateway.auditRetentionMs / 86_400_000} days`,
  },
  {
    table: '### Stored history',
    limit: 'Log store',
    cell: `${worker.logRetentionMs / 3_600_000} hours`,
  },
];

describe('docs/SECURITY.md', () => {
  const document = readDocument('SECURITY.md');

  citationTests(document, 30);

  it('when its limits tables give a default or a range, then it is the one the code has', () => {
    const problems: string[] = [];
    for (const f of FIGURES) {
      const row = tableRows(document, f.table).find((cells) => cells[0]!.startsWith(f.limit));
      if (!row) {
        problems.push(`${f.table}: no row "${f.limit}"`);
        continue;
      }
      if (row[1] !== f.cell) problems.push(`${f.limit}: "${row[1]}", the code says "${f.cell}"`);
      // A range is given with the default, or with the variable that changes it.
      const range = /\(([\d,]+)–([\d,]+)\)/.exec(`${row[1]} ${row[2]}`);
      if (f.range && range) {
        const [low, high] = [range[1]!, range[2]!].map((n) => Number(n.replaceAll(',', '')));
        if (!takesRange(f.range, low!, high!))
          problems.push(`${f.limit}: the code does not take exactly ${low}–${high}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
