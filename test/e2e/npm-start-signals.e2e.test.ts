import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { brokerUsers, SERVICES } from '@psc/contracts';
import { createManagementApi, managementPath } from '@psc/messaging';
import { createIsolatedEnv, freePort, startInfra, waitFor, type IsolatedEnv } from '@psc/testing';
import { dbRole } from '../../scripts/login-passwords.ts';

const ROOT = join(import.meta.dirname, '../..');

/** Every process below `pid`, from /proc (each stat line: pid (comm) state ppid …). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // Gone between readdir and read.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === current) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** True when nothing listens on the port any more: we can bind it ourselves. */
const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A base port whose next four are free as well (the gateway and the four other services). */
async function freePortRun(): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base > 65_000) continue;
    const all = await Promise.all([0, 1, 2, 3, 4].map((i) => portFree(base + i)));
    if (all.every(Boolean)) return base;
  }
}

/** Who is connected to the test's vhost and database: the broker users and PostgreSQL logins. */
async function connectedLogins(
  env: IsolatedEnv,
): Promise<{ broker: string[]; database: string[] }> {
  const infra = await startInfra();
  const connections = await createManagementApi(infra.managementUrl).get<{ user: string }[]>(
    `${managementPath('vhosts', env.vhost, 'connections')}?columns=user`,
  );
  const client = new pg.Client({ connectionString: infra.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ usename: string }>(
      'select distinct usename from pg_stat_activity where datname = $1',
      [env.database],
    );
    return {
      broker: [...new Set(connections.map((c) => c.user))].sort(),
      database: rows.map((r) => r.usename).sort(),
    };
  } finally {
    await client.end();
  }
}

/**
 * `npm start` as a user runs it, stopped the way a terminal, a process manager or CI stops it: one
 * signal to the npm process alone. Nothing it started may outlive it or keep a port. While it
 * runs, each service is connected under its own logins, as in a deployment.
 */
describe(
  'npm start: own logins per service, and stopping it stops everything it started',
  { timeout: 400_000 },
  () => {
    let env: IsolatedEnv;
    before(async () => {
      env = await createIsolatedEnv({ name: 'npm-start' });
    });
    after(async () => {
      await env?.cleanup();
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`when npm start is up, then each service is connected under its own broker user and database login; when the npm start process gets ${signal}, then every child process exits and every port it opened is free again`, async () => {
        const base = await freePortRun();
        const demoPort = await freePort();
        const ports = [base, base + 1, base + 2, base + 3, base + 4];
        const npm = spawn('npm', ['start'], {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            AMQP_URL: env.amqpUrl,
            DATABASE_URL: env.databaseUrl,
            PSC_DEV_PORT_BASE: String(base),
            DEMO_PLATFORM_PORT: String(demoPort),
            PSC_DEMO_REGISTER: 'false',
            PSC_SECRET_KEY: randomBytes(32).toString('base64'),
            PSC_ADMIN_API_KEY: `psc_${randomBytes(24).toString('hex')}`,
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        npm.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4_000)));
        npm.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4_000)));
        // A process killed by a signal has a signalCode and no exitCode.
        const ended = () => npm.exitCode !== null || npm.signalCode !== null;
        const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
        try {
          await waitFor(
            async () => {
              if (ended()) throw new Error(`npm start exited early:\n${output}`);
              const ready = await Promise.all([
                ...ports.map((p) =>
                  fetch(`http://127.0.0.1:${p}/ready`).then(
                    (r) => r.ok,
                    () => false,
                  ),
                ),
                fetch(`http://127.0.0.1:${demoPort}/health`).then(
                  (r) => r.ok,
                  () => false,
                ),
              ]);
              return ready.every(Boolean);
            },
            { timeoutMs: 180_000, intervalMs: 500, message: 'every service ready under npm start' },
          );
          // The names npm start gives them on a vhost and database of their own (scripts/dev.ts).
          const expected = {
            broker: brokerUsers(`${env.vhost}.`)
              .map((u) => u.user)
              .sort(),
            database: SERVICES.map((s) => dbRole(s, `${env.database}_`)).sort(),
          };
          let seen: Awaited<ReturnType<typeof connectedLogins>> | undefined;
          await waitFor(
            async () => {
              seen = await connectedLogins(env);
              return JSON.stringify(seen) === JSON.stringify(expected);
            },
            { timeoutMs: 30_000, message: 'each service under its own logins' },
          ).catch(() => assert.deepEqual(seen, expected));

          const children = descendants(npm.pid!);
          // npm, its shell and the launcher, then the five services and the demo platform.
          assert.ok(children.length >= 6, `only ${children.length} processes below npm`);

          npm.kill(signal);

          await waitFor(
            async () => {
              const left = children.filter(alive);
              const busy = (
                await Promise.all(
                  [...ports, demoPort].map(async (p) => ((await portFree(p)) ? [] : [p])),
                )
              ).flat();
              return left.length === 0 && busy.length === 0 && ended() ? true : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 250, message: `every child gone after ${signal}` },
          );
          await exited;
        } finally {
          // Whatever this test started must not outlive a failure.
          for (const pid of descendants(npm.pid!)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // Already gone.
            }
          }
          if (!ended()) npm.kill('SIGKILL');
        }
      });
    }
  },
);
