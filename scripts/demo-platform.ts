/**
 * The bundled demo platform: a seed-004 style booth API on loopback (or the compose network),
 * whose sales figures move every few seconds so re-syncs have something to report. With
 * PSC_DEMO_REGISTER=true it registers itself at the gateway once and runs a first sync.
 */
import { boothSample, startFakePlatform } from '@psc/testing';
import { DEMO_PLATFORM_PORT } from './demo-platform-port.ts';
import { portFromEnv } from './env-port.ts';

const port = portFromEnv('DEMO_PLATFORM_PORT', DEMO_PLATFORM_PORT);
const host = process.env.HTTP_HOST ?? '127.0.0.1';
const publicUrl = process.env.DEMO_PLATFORM_PUBLIC_URL ?? `http://127.0.0.1:${port}`;
const gatewayUrl = process.env.PSC_GATEWAY_URL ?? 'http://127.0.0.1:8080';
const apiKey = process.env.PSC_ADMIN_API_KEY;
const register = process.env.PSC_DEMO_REGISTER === 'true';
const BOOTHS = '/booth/all';
const SALES = '/sales';
interface Menu {
  menuSalesQuantity: number;
}

export const demoPlatform = {
  name: 'demo-booths',
  description: 'Bundled demo: festival booths, their tables and menus (seed 004)',
  baseUrl: publicUrl,
  active: true,
  resources: [
    {
      name: 'booths',
      tasks: ['sync', 'validate'],
      request: { path: BOOTHS },
      pagination: { type: 'page', pageParam: 'page', sizeParam: 'size', pageSize: 5 },
      itemsPath: 'data',
      key: 'boothName',
      mapping: {
        name: 'boothName',
        allTable: 'boothAllTable',
        usageTable: 'boothUsageTable',
        canUsage: 'boothUsageTable < boothAllTable',
        category: "'BOOTH'",
        isDorder: 'true',
        menus:
          '[menus.{"name": menuName, "ingredient": menuIngredidentReminder, "sold": menuSalesQuantity, "price": 0}]',
      },
    },
    {
      name: 'sales',
      tasks: ['collect'],
      params: ['date'],
      request: { path: SALES, query: { date: '{{date}}' } },
      itemsPath: 'sales',
      key: 'id',
      mapping: { booth: 'booth', sold: 'sold' },
    },
  ],
};

const platform = await startFakePlatform({
  port,
  host,
  collections: { [BOOTHS]: boothSample(12) },
});
// Liveness for compose's healthcheck and for anyone checking the port is the demo's.
platform.route('GET', '/health', () => ({ body: { status: 'ok' } }));
// A day's sales report (seed 001-style per-date collection): `?date=yyyyMMdd`.
platform.route('GET', SALES, (req) => {
  const date = req.query.date ?? '';
  if (!/^\d{8}$/.test(date)) return { status: 400, body: { error: 'date must be yyyyMMdd' } };
  const booths = platform.getCollection(BOOTHS) as { boothName: string; menus: Menu[] }[];
  return {
    body: {
      date,
      sales: booths.map((b) => ({
        id: `${date}-${b.boothName}`,
        booth: b.boothName,
        sold: b.menus.reduce((sum, m) => sum + m.menuSalesQuantity, 0),
      })),
    },
  };
});
process.stdout.write(`demo platform serving ${platform.url}${BOOTHS} and ${SALES}?date=\n`);

// Sales move on, so the next sync reports updates.
const ticker = setInterval(() => {
  const n = 1 + Math.floor(Math.random() * 12);
  platform.updateItem(
    BOOTHS,
    (b) => b.boothName === `Booth ${n}`,
    (b) => ({
      ...b,
      menus: (b.menus as Menu[]).map((m) => ({
        ...m,
        menuSalesQuantity: m.menuSalesQuantity + 1,
      })),
    }),
  );
}, 10_000);

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${gatewayUrl}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) },
    signal: AbortSignal.timeout(5_000),
  });
}

/** The scheduler may still be starting when the gateway is: retry until it takes the job. */
async function firstSync(platformId: string, deadline: number): Promise<string> {
  for (;;) {
    const run = await api('/api/v1/run/sync', {
      method: 'POST',
      body: JSON.stringify({ platformId, resource: 'booths' }),
    }).catch(() => undefined);
    if (run?.status === 202) {
      const body = (await run.json()) as { jobs: { id: string }[] };
      return body.jobs[0]?.id ?? '?';
    }
    if (Date.now() > deadline)
      throw new Error(`first sync not accepted: HTTP ${run?.status ?? 'none'}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function registerOnce(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await fetch(`${gatewayUrl}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    const listing = ready
      ? await api('/api/v1/platforms?limit=500').catch(() => undefined)
      : undefined;
    if (listing?.ok) {
      const { items } = (await listing.json()) as { items: { id: string; name: string }[] };
      let id = items.find((p) => p.name === demoPlatform.name)?.id;
      if (!id) {
        const created = await api('/api/v1/platforms', {
          method: 'POST',
          body: JSON.stringify(demoPlatform),
        });
        if (!created.ok)
          throw new Error(
            `registering the demo platform failed: HTTP ${created.status} ${await created.text()}`,
          );
        id = ((await created.json()) as { id: string }).id;
        process.stdout.write(`demo: registered platform ${demoPlatform.name} (${id})\n`);
      }
      const jobId = await firstSync(id, deadline);
      process.stdout.write(
        `demo: sync queued → ${gatewayUrl}/api/v1/jobs/${jobId ?? '?'} ; records → ${gatewayUrl}/api/v1/data/${id}/booths\n`,
      );
      return;
    }
    if (Date.now() > deadline) throw new Error('gateway did not become ready within 120 s');
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

if (register) {
  registerOnce().catch((err: unknown) => process.stderr.write(`demo: ${(err as Error).message}\n`));
}

const stop = (): void => {
  clearInterval(ticker);
  void platform.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
