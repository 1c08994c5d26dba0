import { randomBytes } from 'node:crypto';
import {
  freePort,
  serviceLaunch,
  spawnService,
  waitUntilReady,
  type IsolatedEnv,
  type ServiceProcess,
} from '@psc/testing';
import { build, repoRoot } from '../../scripts/build.ts';

const PSC_SERVICES = [
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
  'gateway',
] as const;
type PscService = (typeof PSC_SERVICES)[number];

interface RunningService {
  service: PscService;
  process: ServiceProcess;
  url: string;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export interface Psc {
  adminKey: string;
  gatewayUrl: string;
  /** Running processes by instance name (`sync-worker`, `collector-2`, …). */
  instances: Map<string, RunningService>;
  /** Starts one more process of `service` (or restarts it under the same instance name). */
  start(
    service: PscService,
    instance?: string,
    extraEnv?: Record<string, string>,
  ): Promise<RunningService>;
  stopInstance(instance: string): Promise<void>;
  api<T = unknown>(
    path: string,
    init?: { method?: string; body?: unknown },
  ): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

/**
 * psc's five services as separate processes, as in production (the same start-up as
 * test/support/system.ts): each on the isolated vhost and database, with the telemetry register
 * loaded but no OTLP endpoint (so tracing off, as `npm start`'s default), at LOG_LEVEL info.
 */
export async function startPsc(
  env: IsolatedEnv,
  options: {
    cpuProfileDir?: string;
    profileServices?: string[];
    logLevel?: string;
    /** Each service writes its JIT code's symbols for Linux perf (`--perf-map`). */
    perfMap?: boolean;
  } = {},
): Promise<Psc> {
  build(repoRoot);
  const adminKey = `psc_admin_${randomBytes(16).toString('hex')}`;
  const workerKey = randomBytes(32).toString('base64');
  // Each service gets only the secrets it reads, as in compose.
  const secretsOf: Record<PscService, Record<string, string>> = {
    gateway: { PSC_ADMIN_API_KEY: adminKey },
    'platform-registry': {
      PSC_SECRET_KEY: randomBytes(32).toString('base64'),
      PSC_WORKER_SECRET_KEY: workerKey,
    },
    scheduler: {},
    'sync-worker': { PSC_WORKER_SECRET_KEY: workerKey },
    collector: { PSC_WORKER_SECRET_KEY: workerKey },
  };
  const baseEnv: Record<string, string> = {
    AMQP_URL: env.amqpUrl,
    DATABASE_URL: env.databaseUrl,
    LOG_LEVEL: options.logLevel ?? 'info',
    PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
    // The per-key limit (6,000/min by default) would turn scenario 3's load into 429s. A high
    // limit is still enforced the same way (points leased in batches from the shared table), so
    // what the limiter costs stays measured.
    PSC_RATE_LIMIT_PER_MINUTE: '1000000',
  };
  const instances = new Map<string, RunningService>();

  async function start(
    service: PscService,
    instance: string = service,
    extraEnv: Record<string, string> = {},
  ): Promise<RunningService> {
    const port = await freePort();
    const launch = serviceLaunch(repoRoot, service);
    const nodeArgs = [...launch.nodeArgs];
    if (options.perfMap) {
      // Interpreted frames get native frames too, so perf's frame-pointer stacks walk through them.
      nodeArgs.push('--perf-basic-prof-only-functions', '--interpreted-frames-native-stack');
    }
    if (options.cpuProfileDir && (options.profileServices ?? ['sync-worker']).includes(service)) {
      nodeArgs.push(
        '--cpu-prof',
        '--cpu-prof-dir',
        options.cpuProfileDir,
        '--cpu-prof-name',
        `${instance}.${Date.now()}.cpuprofile`,
      );
    }
    const child = spawnService({
      name: instance,
      entry: launch.entry,
      cwd: launch.cwd,
      nodeArgs,
      launchEnv: launch.launchEnv,
      env: {
        ...secretsOf[service],
        ...baseEnv,
        HTTP_PORT: String(port),
        OTEL_SERVICE_NAME: service,
        ...extraEnv,
      },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(child, url, { timeoutMs: 60_000, intervalMs: 100 });
    const running: RunningService = { service, process: child, url };
    instances.set(instance, running);
    return running;
  }

  const stopAll = async (): Promise<void> => {
    await Promise.all([...instances.values()].map((s) => s.process.stop()));
    instances.clear();
  };

  try {
    // The registry first: the others ask it for platforms while they start.
    await start('platform-registry');
    await Promise.all(PSC_SERVICES.filter((s) => s !== 'platform-registry').map((s) => start(s)));
  } catch (err) {
    await stopAll();
    throw err;
  }

  const gatewayUrl = (): string => {
    const gateway = instances.get('gateway');
    if (!gateway) throw new Error('gateway not started');
    return gateway.url;
  };

  return {
    adminKey,
    get gatewayUrl() {
      return gatewayUrl();
    },
    instances,
    start,
    async stopInstance(instance) {
      const running = instances.get(instance);
      instances.delete(instance);
      await running?.process.stop();
    },
    async api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
      const response = await fetch(`${gatewayUrl()}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          'x-api-key': adminKey,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON (e.g. an export stream); the caller gets the text.
      }
      return { status: response.status, body: body as T };
    },
    stop: stopAll,
  };
}

/** Throws with the response when the status is not the expected one. */
export function expectStatus<T>(what: string, response: ApiResponse<T>, ...ok: number[]): T {
  if (!ok.includes(response.status)) {
    throw new Error(
      `${what}: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 500)}`,
    );
  }
  return response.body;
}
