import {
  collectionChildren,
  collectionDocuments,
  collectionExport,
  collectionGet,
  collectorList,
  collectorStatusGet,
  logCursor,
  logsQuery,
  monitoringWorkers,
  type CollectorInfo,
  type Platform,
} from '@psc/contracts';
import { NotFoundError, type Clock } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { CollectionRepository } from '../../data-access/collection.repository.ts';
import type { LogRepository } from '../../data-access/log.repository.ts';
import type { WorkerRepository } from '../../data-access/worker.repository.ts';
import {
  EXPORT_PAGE_CHARS,
  parseExportCursor,
  renderExportPage,
} from '../../domain/export-page.ts';

export interface CollectorRpcDeps {
  collections: CollectionRepository;
  logs: LogRepository;
  workers: WorkerRepository;
  /** Every registered platform (credentials masked). */
  listPlatforms: () => Promise<Platform[]>;
  clock: Clock;
}

export function collectorRpcHandlers(deps: CollectorRpcDeps): RpcHandler[] {
  async function statusOf(platform: Platform, resourceName: string): Promise<CollectorInfo> {
    const resource = platform.resources.find((r) => r.name === resourceName);
    if (!resource || !resource.tasks.includes('collect')) {
      throw new NotFoundError(`no collector ${platform.name}/${resourceName}`);
    }
    return {
      name: `${platform.name}/${resource.name}`,
      platformId: platform.id,
      resource: resource.name,
      params: resource.params,
      fanOut: resource.fanOut !== undefined,
      running: await deps.collections.runningCount(platform.id, resource.name),
      lastRun: await deps.collections.lastRun(platform.id, resource.name),
    };
  }

  async function byName(name: string) {
    const [platformName, resource] = name.split('/') as [string, string];
    const platform = (await deps.listPlatforms()).find((p) => p.name === platformName);
    if (!platform) throw new NotFoundError(`no collector ${name}`);
    return statusOf(platform, resource);
  }

  return [
    rpcHandler(collectionGet, async ({ jobId }) => {
      const found = await deps.collections.find(jobId);
      if (!found) throw new NotFoundError(`no collection for job ${jobId}`);
      return found;
    }),
    rpcHandler(collectionChildren, async ({ jobId, status, cursor, limit }) => {
      const rows = await deps.collections.listChildren({
        jobId,
        status,
        afterIndex: cursor === undefined ? undefined : Number(cursor),
        limit: limit + 1,
      });
      if (!rows) throw new NotFoundError(`no collection for job ${jobId}`);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? String(last.index) : null };
    }),
    rpcHandler(collectionDocuments, async ({ jobId, cursor, limit }) => {
      const afterId = cursor && /^\d{1,19}$/.test(cursor) ? cursor : undefined;
      const rows = await deps.collections.listDocuments({ jobId, afterId, limit: limit + 1 });
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    }),
    rpcHandler(collectionExport, async ({ jobId, cursor, limit }) => {
      if (!(await deps.collections.find(jobId))) {
        throw new NotFoundError(`no collection for job ${jobId}`);
      }
      const from = parseExportCursor(cursor);
      const { docs, more } = await deps.collections.exportDocuments({
        jobId,
        afterId: from.afterId,
        limit,
        budget: EXPORT_PAGE_CHARS,
      });
      return renderExportPage(docs, from, { more });
    }),
    rpcHandler(collectorList, async () => {
      const items: CollectorInfo[] = [];
      for (const platform of await deps.listPlatforms()) {
        for (const r of platform.resources.filter((x) => x.tasks.includes('collect'))) {
          items.push(await statusOf(platform, r.name));
        }
      }
      return { items };
    }),
    rpcHandler(collectorStatusGet, ({ name }) => byName(name)),
    rpcHandler(logsQuery, async ({ cursor, limit, ...q }) => {
      const rows = await deps.logs.query({
        ...q,
        before: logCursor.decode(cursor),
        limit: limit + 1,
      });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > limit && last ? logCursor.encode({ at: last.at, id: last.id }) : null,
      };
    }),
    rpcHandler(monitoringWorkers, async () => ({
      items: await deps.workers.live(deps.clock.now()),
    })),
  ];
}
