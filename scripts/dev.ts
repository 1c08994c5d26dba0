/**
 * `npm start`: runs psc on this machine against local RabbitMQ and PostgreSQL: the five services
 * as separate processes (as in production) plus the bundled demo platform, which registers
 * itself and runs a first sync. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from 'amqplib';
import pg from 'pg';
import { brokerUsers, SERVICE_SCHEMAS, type ServiceName } from '@psc/contracts';
import { provisionServiceRoles } from '@psc/db';
import { provisionBrokerUsers } from '@psc/messaging';
import { serviceLaunch } from '@psc/testing';
import { build, repoRoot } from './build.ts';
import { DEMO_PLATFORM_PORT } from './demo-platform-port.ts';
import { portFromEnv } from './env-port.ts';
import { dbRole, withLogin } from './login-passwords.ts';

// The gateway on HTTP_PORT (else PSC_DEV_PORT_BASE, 8080), the other four on the next ports.
const portBase = portFromEnv('PSC_DEV_PORT_BASE', 8080);
const SERVICES = [
  ['platform-registry', portBase + 1],
  ['scheduler', portBase + 2],
  ['sync-worker', portBase + 3],
  ['collector', portBase + 4],
  ['gateway', portFromEnv('HTTP_PORT', portBase)],
] as const;

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/psc';
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const demoPort = portFromEnv('DEMO_PLATFORM_PORT', DEMO_PLATFORM_PORT);
const gatewayPort = SERVICES[4][1];
const children: ChildProcess[] = [];

/**
 * Local-only secrets: PSC_SECRET_KEY and PSC_ADMIN_API_KEY from the environment, else made once
 * and kept in .psc/dev-secrets.json (git-ignored) so stored credentials stay readable across runs.
 * PSC_WORKER_SECRET_KEY needs no keeping (see main).
 */
function devSecrets(): { secretKey: string; adminKey: string } {
  const file = '.psc/dev-secrets.json';
  let saved: { secretKey?: string; adminKey?: string } = {};
  if (existsSync(file)) saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
  const secretKey = process.env.PSC_SECRET_KEY ?? saved.secretKey;
  const adminKey = process.env.PSC_ADMIN_API_KEY ?? saved.adminKey;
  const secrets = {
    secretKey: secretKey ?? randomBytes(32).toString('base64'),
    adminKey: adminKey ?? `psc_${randomBytes(32).toString('base64url')}`,
  };
  // Only what was made here is kept: secrets from the environment stay out of the file.
  if (!existsSync(file) && (!secretKey || !adminKey)) {
    mkdirSync('.psc', { recursive: true });
    writeFileSync(
      file,
      JSON.stringify(
        {
          ...(secretKey ? {} : { secretKey: secrets.secretKey }),
          ...(adminKey ? {} : { adminKey: secrets.adminKey }),
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );
  }
  return secrets;
}

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to PostgreSQL at DATABASE_URL (${(err as Error).message})`);
  }
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  if (!rowCount) await client.query(`create database "${name.replace(/"/g, '')}"`);
  await client.end();
}

/** Fails at once, in one line, when the broker is down: the services would wait for it in silence. */
async function ensureBroker(url: string): Promise<void> {
  try {
    const connection = await connect(url, { timeout: 5_000 });
    await connection.close();
  } catch (err) {
    throw new Error(`cannot connect to RabbitMQ at AMQP_URL (${(err as Error).message})`);
  }
}

interface ServiceLogins {
  AMQP_URL: string;
  DATABASE_URL: string;
  /** The gateway's: queue depths through the management API, with its own login. */
  RABBITMQ_MANAGEMENT_URL?: string;
}

/**
 * Every service under its own RabbitMQ user and PostgreSQL login, as in a deployment
 * (docs/DEPLOY.md, "Broker users" and "Database logins"), made with AMQP_URL's and DATABASE_URL's
 * logins as administrators. The passwords are new at every start: provisioning resets them, and
 * only the processes started here need them. The names follow the vhost and the database (`/`
 * and psc: psc-gateway, psc_gateway), so installs on other vhosts or databases keep apart. When
 * a server will not make them (no management plugin, a login that may not create roles), the
 * services share that server's login and a line says why.
 */
async function serviceLogins(
  services: readonly ServiceName[],
): Promise<Record<string, ServiceLogins>> {
  const password = () => randomBytes(24).toString('hex');
  const amqp = new URL(amqpUrl);
  const vhost = decodeURIComponent(amqp.pathname.slice(1)) || '/';
  const managementUrl =
    process.env.RABBITMQ_MANAGEMENT_URL ??
    `http://${amqp.username || 'guest'}:${amqp.password || 'guest'}@${amqp.hostname}:15672`;
  const users = brokerUsers(vhost === '/' ? 'psc-' : `${vhost}.`)
    .filter((u) => services.includes(u.service))
    .map((u) => ({ ...u, password: password() }));
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const roles = services.map((service) => ({
    service,
    role: dbRole(service, `${database}_`),
    schema: SERVICE_SCHEMAS[service],
    password: password(),
  }));
  const brokerOk = await provisionBrokerUsers({ managementUrl, vhost, users }).then(
    () => true,
    (err: unknown) => {
      process.stdout.write(
        `[psc] every service shares AMQP_URL's login: no broker users made (${(err as Error).message}); ` +
          'rabbitmq-plugins enable rabbitmq_management, or set RABBITMQ_MANAGEMENT_URL\n',
      );
      return false;
    },
  );
  const dbOk = await provisionServiceRoles(databaseUrl, roles).then(
    () => true,
    (err: unknown) => {
      process.stdout.write(
        `[psc] every service shares DATABASE_URL's login: no logins made (${(err as Error).message})\n`,
      );
      return false;
    },
  );
  return Object.fromEntries(
    services.map((service) => {
      const user = users.find((u) => u.service === service)!;
      const role = roles.find((r) => r.service === service)!;
      return [
        service,
        {
          AMQP_URL: brokerOk ? withLogin(amqpUrl, user.user, user.password) : amqpUrl,
          DATABASE_URL: dbOk ? withLogin(databaseUrl, role.role, role.password) : databaseUrl,
          ...(brokerOk && service === 'gateway'
            ? { RABBITMQ_MANAGEMENT_URL: withLogin(managementUrl, user.user, user.password) }
            : {}),
        },
      ];
    }),
  );
}

/** Kept from the children but for those that read them; the URLs carry administrators' logins. */
const SECRET_VARIABLES = [
  'PSC_SECRET_KEY',
  'PSC_SECRET_KEY_PREVIOUS',
  'PSC_WORKER_SECRET_KEY_PREVIOUS',
  'PSC_WORKER_SECRET_KEY',
  'PSC_ADMIN_API_KEY',
  'AMQP_URL',
  'DATABASE_URL',
  'RABBITMQ_MANAGEMENT_URL',
];

/** The shell's environment minus the secrets: `env` says which of them this process gets. */
function run(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !SECRET_VARIABLES.includes(key)),
  );
  const child = spawn(process.execPath, args, {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) =>
      process.stdout.write(`[${name}] ${line}\n`),
    );
  }
  child.on('exit', (code, signal) => {
    if (!stopping) process.stdout.write(`[${name}] exited (${signal ?? code})\n`);
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stopAll(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping psc…\n');
  const exits = children.map(
    (c) =>
      new Promise<void>((resolve) =>
        c.exitCode !== null ? resolve() : c.once('exit', () => resolve()),
      ),
  );
  for (const c of children) c.kill('SIGTERM');
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 8_000);
  await Promise.all(exits);
  clearTimeout(timer);
  process.exit(code);
}

async function main(): Promise<void> {
  build(repoRoot);
  await ensureDatabase(databaseUrl);
  await ensureBroker(amqpUrl);
  const secrets = devSecrets();
  // Nothing is stored under the worker key (it seals credentials in transit only), so a fresh
  // one per run will do.
  const workerKey = process.env.PSC_WORKER_SECRET_KEY ?? randomBytes(32).toString('base64');
  const previousWorkerKeys: Record<string, string> = process.env.PSC_WORKER_SECRET_KEY_PREVIOUS
    ? { PSC_WORKER_SECRET_KEY_PREVIOUS: process.env.PSC_WORKER_SECRET_KEY_PREVIOUS }
    : {};
  // Each process gets only the secrets it reads, as in compose.
  const secretsOf: Record<string, Record<string, string>> = {
    gateway: { PSC_ADMIN_API_KEY: secrets.adminKey },
    'platform-registry': {
      PSC_SECRET_KEY: secrets.secretKey,
      PSC_WORKER_SECRET_KEY: workerKey,
      ...(process.env.PSC_SECRET_KEY_PREVIOUS
        ? { PSC_SECRET_KEY_PREVIOUS: process.env.PSC_SECRET_KEY_PREVIOUS }
        : {}),
    },
    'sync-worker': { PSC_WORKER_SECRET_KEY: workerKey, ...previousWorkerKeys },
    collector: { PSC_WORKER_SECRET_KEY: workerKey, ...previousWorkerKeys },
  };
  const logins = await serviceLogins(SERVICES.map(([name]) => name));
  const common = {
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    PSC_EGRESS_ALLOW: process.env.PSC_EGRESS_ALLOW ?? '127.0.0.1,localhost',
  };
  run('demo-platform', ['scripts/demo-platform.ts'], {
    ...common,
    PSC_ADMIN_API_KEY: secrets.adminKey,
    DEMO_PLATFORM_PORT: String(demoPort),
    PSC_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
    PSC_DEMO_REGISTER: process.env.PSC_DEMO_REGISTER ?? 'true',
  });
  for (const [name, port] of SERVICES) {
    const { nodeArgs, entry, launchEnv } = serviceLaunch(repoRoot, name);
    run(name, [...nodeArgs, entry], {
      ...launchEnv,
      ...common,
      ...logins[name],
      ...secretsOf[name],
      HTTP_PORT: String(port),
      OTEL_SERVICE_NAME: name,
    });
  }
  process.stdout.write(
    `\npsc is starting (Ctrl-C stops):\n` +
      `  console  http://127.0.0.1:${gatewayPort}/ui  (sign in with the admin key)\n` +
      `  API      http://127.0.0.1:${gatewayPort}/api/v1/platforms  (X-API-Key)\n` +
      `  docs     http://127.0.0.1:${gatewayPort}/docs\n` +
      `admin key: .psc/dev-secrets.json\n\n`,
  );
}

process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
process.on('SIGHUP', () => void stopAll());
// `npm start` runs this under npm and sh. A signal sent to npm alone (kill <pid>, a process
// manager, CI) may end the shell without reaching here, which would leave every child running
// and holding its port: a new parent means the one that started us is gone, so stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stopAll();
}, 250).unref();
main().catch((err: unknown) => {
  process.stderr.write(`psc: ${(err as Error).message}\n`);
  void stopAll(1);
});
