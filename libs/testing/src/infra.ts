import { execFile } from 'node:child_process';
import { createManagementApi } from '@psc/messaging';
import { ENABLE_COMMAND } from './management-plugin.ts';
import { withPgClient } from './pg-client.ts';
import { redactUrl } from './urls.ts';

/** Where the shared RabbitMQ and PostgreSQL for a test run live. */
export interface Infra {
  /** `containers`: started here with testcontainers; `external`: servers found through env. */
  mode: 'containers' | 'external';
  amqpUrl: string;
  /** A database the test user may connect to and run CREATE DATABASE from. */
  databaseUrl: string;
  /** RabbitMQ management API base URL, with credentials (http://user:pass@host:port). */
  managementUrl: string;
  /**
   * Runs the broker's `rabbitmqctl` with `args` (in its container, or on this machine when the
   * broker is local) and resolves with its output: for faults the management API cannot make.
   */
  rabbitmqctl(args: readonly string[]): Promise<string>;
  /** Stops containers (no-op for external servers) and forgets the cached instance. */
  stop(): Promise<void>;
}

type InfraChoice = 'containers' | 'external' | 'auto';

const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_MANAGEMENT_URL = 'http://guest:guest@127.0.0.1:15672';
const RABBITMQ_IMAGE = 'rabbitmq:3.10-management-alpine';
const POSTGRES_IMAGE = 'postgres:15-alpine';

let current: Promise<Infra> | undefined;

/**
 * Starts (or finds) the RabbitMQ and PostgreSQL the integration tests run against, once per
 * process: later calls return the same Infra until `stop()`.
 *
 * `TEST_INFRA=containers|external|auto` (default auto). `auto` uses testcontainers when a
 * container runtime answers within `TEST_INFRA_PROBE_MS` (default 3000) and otherwise the servers
 * named by `AMQP_URL`, `DATABASE_URL` and `RABBITMQ_MANAGEMENT_URL` (loopback defaults). Either
 * way the servers are checked, and an unreachable one throws: tests are never skipped.
 */
export function startInfra(): Promise<Infra> {
  current ??= resolveInfra().catch((err: unknown) => {
    // Do not cache a failure: the next caller should probe again and fail just as loudly.
    current = undefined;
    throw err;
  });
  return current;
}

async function resolveInfra(): Promise<Infra> {
  const mode = await infraMode();
  return mode.mode === 'containers' ? startContainers() : useExternal(mode.why);
}

/**
 * Where this run's servers will come from (`TEST_INFRA`, probing for a container runtime under
 * `auto`), without starting or checking any: `external` says why, for error messages.
 */
export async function infraMode(): Promise<
  { mode: 'containers' } | { mode: 'external'; why: string }
> {
  const choice = readChoice(process.env.TEST_INFRA);
  if (choice === 'containers') return { mode: 'containers' };
  if (choice === 'external') return { mode: 'external', why: 'TEST_INFRA=external' };

  const probeMs = Number(process.env.TEST_INFRA_PROBE_MS) || 3_000;
  const probe = await probeContainerRuntime(probeMs);
  if (probe === true) return { mode: 'containers' };
  return { mode: 'external', why: `TEST_INFRA=auto found no container runtime (${probe})` };
}

/** The external servers' URLs: the env's, else the loopback defaults. */
export function externalUrls(): { amqpUrl: string; databaseUrl: string; managementUrl: string } {
  return {
    amqpUrl: process.env.AMQP_URL || DEFAULT_AMQP_URL,
    databaseUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    managementUrl: process.env.RABBITMQ_MANAGEMENT_URL || DEFAULT_MANAGEMENT_URL,
  };
}

function readChoice(raw: string | undefined): InfraChoice {
  const value = (raw ?? '').trim() || 'auto';
  if (value === 'containers' || value === 'external' || value === 'auto') return value;
  throw new Error(`TEST_INFRA must be containers, external or auto, got ${JSON.stringify(raw)}`);
}

/** Resolves true when testcontainers finds a runtime, else the reason it did not. */
async function probeContainerRuntime(timeoutMs: number): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    // testcontainers has no timeout of its own: a socket that accepts but never answers hangs.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return true;
  } catch (err) {
    return errorMessage(err);
  } finally {
    clearTimeout(timer);
  }
}

async function startContainers(): Promise<Infra> {
  const [{ PostgreSqlContainer }, { RabbitMQContainer }] = await Promise.all([
    import('@testcontainers/postgresql'),
    import('@testcontainers/rabbitmq'),
  ]);
  const postgres = new PostgreSqlContainer(POSTGRES_IMAGE)
    // Durability buys nothing in a throw-away test database and costs a lot of time.
    .withCommand([
      'postgres',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ])
    .withTmpFs({ '/var/lib/postgresql/data': 'rw' });
  const rabbit = new RabbitMQContainer(RABBITMQ_IMAGE);

  const [pg, mq] = await Promise.allSettled([postgres.start(), rabbit.start()]);
  if (pg.status === 'rejected' || mq.status === 'rejected') {
    await Promise.allSettled([
      pg.status === 'fulfilled' ? pg.value.stop() : undefined,
      mq.status === 'fulfilled' ? mq.value.stop() : undefined,
    ]);
    const reason: unknown =
      pg.status === 'rejected' ? pg.reason : (mq as PromiseRejectedResult).reason;
    throw new Error(`psc test infra: could not start containers: ${errorMessage(reason)}`, {
      cause: reason,
    });
  }

  const host = mq.value.getHost();
  const infra: Infra = {
    mode: 'containers',
    // The module's getAmqpUrl() omits credentials; isolation needs the user for permissions.
    amqpUrl: `amqp://guest:guest@${host}:${mq.value.getMappedPort(5672)}`,
    managementUrl: `http://guest:guest@${host}:${mq.value.getMappedPort(15672)}`,
    databaseUrl: pg.value.getConnectionUri(),
    rabbitmqctl: async (args) => {
      const result = await mq.value.exec(['rabbitmqctl', ...args]);
      if (result.exitCode !== 0) throw new Error(`rabbitmqctl failed: ${result.output.trim()}`);
      return result.stdout;
    },
    stop: async () => {
      current = undefined;
      await Promise.all([pg.value.stop(), mq.value.stop()]);
    },
  };
  return infra;
}

async function useExternal(why: string): Promise<Infra> {
  const { amqpUrl, databaseUrl, managementUrl } = externalUrls();

  const checks = await Promise.allSettled([
    checkAmqp(amqpUrl),
    createManagementApi(managementUrl, { timeoutMs: 5_000 }).get('/api/whoami'),
    withPgClient(databaseUrl, (client) => client.query('select 1')),
  ]);
  const names = [
    `RabbitMQ AMQP at ${redactUrl(amqpUrl)} (AMQP_URL)`,
    `RabbitMQ management API at ${redactUrl(managementUrl)} (RABBITMQ_MANAGEMENT_URL)`,
    `PostgreSQL at ${redactUrl(databaseUrl)} (DATABASE_URL)`,
  ];
  const problems = checks.flatMap((check, i) =>
    check.status === 'rejected' ? [`  - ${names[i]}: ${errorMessage(check.reason)}`] : [],
  );
  if (problems.length > 0) {
    throw new Error(
      [
        `psc test infra is unreachable; ${why}, so the external servers were used:`,
        ...problems,
        ...(checks[1]?.status === 'rejected'
          ? [
              `Management API: run \`sudo ${ENABLE_COMMAND.join(' ')}\` (npm test does it for a local broker).`,
            ]
          : []),
        'Start Docker, or start RabbitMQ (with the management plugin) and PostgreSQL and point',
        'AMQP_URL, RABBITMQ_MANAGEMENT_URL and DATABASE_URL at them. Integration tests are never skipped.',
      ].join('\n'),
    );
  }

  return {
    mode: 'external',
    amqpUrl,
    databaseUrl,
    managementUrl,
    rabbitmqctl: (args) => localRabbitmqctl(amqpUrl, args),
    stop: () => {
      current = undefined;
      return Promise.resolve();
    },
  };
}

/**
 * The CLI of a broker on this machine. Debian's wrapper runs it as the rabbitmq user when called
 * by root (the Erlang cookie is that user's), and refuses anyone else.
 */
function localRabbitmqctl(amqpUrl: string, args: readonly string[]): Promise<string> {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(amqpUrl).hostname)) {
    return Promise.reject(
      new Error(`rabbitmqctl needs the broker on this machine; AMQP_URL points elsewhere`),
    );
  }
  return new Promise((resolve, reject) => {
    execFile('rabbitmqctl', [...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const why = `${stderr}${stdout}`.trim() || err.message;
        reject(new Error(`rabbitmqctl failed (run the tests as root or as rabbitmq): ${why}`));
      } else resolve(stdout);
    });
  });
}

async function checkAmqp(url: string): Promise<void> {
  const amqp = await import('amqplib');
  const connection = await amqp.connect(url, { timeout: 5_000 });
  connection.on('error', () => {});
  await connection.close();
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(errorMessage).join('; ');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return err.message || code || err.name;
  }
  return String(err);
}
