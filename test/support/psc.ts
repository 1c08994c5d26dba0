import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { boothSample, startFakePlatform, type FakePlatform } from '@psc/testing';
import { boothPlatform } from './platforms.ts';
import { startSystem, type ServiceName, type System } from './system.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The shim pnpm links into node_modules/.bin: what `npx psc` runs. */
const PSC_BIN = join(ROOT, 'node_modules/.bin/psc');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `psc` as a user would, through node_modules/.bin/psc, with stdout and stderr on pipes
 * (not a TTY); with `tty`, inside script(1), which gives it a pseudo-terminal as stdout; with
 * `stdoutTo`, its stdout is that file, as `> file` makes it (stdout is then '').
 */
export function runPsc(
  args: string[],
  env: Record<string, string> = {},
  options: { tty?: boolean; stdoutTo?: string } = {},
): Promise<Run> {
  const [file, argv] = options.tty
    ? ['script', ['-qec', [PSC_BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null']]
    : [PSC_BIN, args];
  const out = options.stdoutTo === undefined ? undefined : openSync(options.stdoutTo, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        TERM: 'dumb',
        ...env,
      },
      stdio: ['ignore', out ?? 'pipe', 'pipe'],
    });
    if (out !== undefined) closeSync(out);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Loopback servers standing in for what PSC_URL may point at (a gateway that never answers, a
 * proxy's page, a stream cut short), closed when the suite ends. Call in a `describe`.
 */
export function useStandIns(): (handler: RequestListener) => Promise<string> {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });
  return async (handler) => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
}

interface Live {
  /** What psc has printed so far. */
  run: Run;
  /** Writes to psc's terminal (with `tty`): what a key press sends. */
  type(text: string): void;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<Run & { signal: NodeJS.Signals | null }>;
}

/**
 * `psc` left running, to be interrupted: on pipes, or with `tty` inside script(1), whose
 * pseudo-terminal turns a typed Ctrl-C into SIGINT as an operator's shell does. Killed after
 * `deadlineMs` so a psc that never ends fails the test instead of hanging it.
 */
export function startPsc(
  args: string[],
  env: Record<string, string>,
  options: { tty?: boolean; deadlineMs?: number } = {},
): Live {
  const [file, argv] = options.tty
    ? ['script', ['-qec', [PSC_BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null']]
    : [PSC_BIN, args];
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  const deadline = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs ?? 60_000);
  return {
    run,
    type: (text) => child.stdin.write(text),
    kill: (signal) => child.kill(signal),
    exited: new Promise((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(deadline);
        resolve({ ...run, code, signal });
      });
    }),
  };
}

export const show = (run: Run): string =>
  `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

interface CliSetup {
  system: System;
  fake: FakePlatform;
  /** A scratch directory of the file's own (definitions, imports, config homes). */
  dir: string;
  /** PSC_URL/PSC_API_KEY of the system (admin key) and a config home of the file's own. */
  env: Record<string, string>;
  psc: (...args: string[]) => Promise<Run>;
  /** Runs with --json, expects exit 0 and parses stdout. */
  pscJson: <T>(...args: string[]) => Promise<{ run: Run; body: T }>;
  /** Registers a booth platform through `psc platforms add -f`; returns its name. */
  addPlatform(overrides?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

interface CliOptions {
  /** Starts the collector as well, for the collections commands. */
  collector?: boolean;
}

/**
 * A system (the collector only with `collector`) and a fake platform serving 25 booths at
 * `/booth/all` and 5 at `/booth/flaky`, retries 200/400/800 ms so a job dies within seconds.
 */
async function startCliSetup(name: string, options: CliOptions): Promise<CliSetup> {
  const fake = await startFakePlatform({
    collections: { '/booth/all': boothSample(25), '/booth/flaky': boothSample(5) },
  });
  // One service at a time: on a busy machine services starting all at once can each miss the
  // 30 s readiness wait.
  const system = await startSystem({
    name,
    env: { PSC_RETRY_TIERS_MS: '200,400,800' },
    services: ['platform-registry'],
  });
  const services: ServiceName[] = ['scheduler', 'sync-worker', 'gateway'];
  if (options.collector) services.splice(2, 0, 'collector');
  for (const service of services) {
    await system.start(service);
  }
  const dir = mkdtempSync(join(tmpdir(), 'psc-cli-'));
  const env = {
    PSC_URL: system.gatewayUrl,
    PSC_API_KEY: system.adminKey,
    XDG_CONFIG_HOME: join(dir, 'config'),
  };
  const psc = (...args: string[]) => runPsc(args, env);
  return {
    system,
    fake,
    dir,
    env,
    psc,
    async pscJson<T>(...args: string[]) {
      const run = await psc(...args, '--json');
      assert.equal(run.code, 0, show(run));
      return { run, body: JSON.parse(run.stdout) as T };
    },
    async addPlatform(overrides = {}) {
      const definition = boothPlatform(fake.url, overrides);
      const file = join(dir, `${definition.name}.json`);
      writeFileSync(file, JSON.stringify(definition));
      const run = await psc('platforms', 'add', '-f', file);
      assert.equal(run.code, 0, show(run));
      return definition.name;
    },
    async stop() {
      await system.stop();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The CLI set-up of a describe block: started in its `before`, stopped in its `after`. Taken at
 * describe time, so `psc`, `pscJson` and `addPlatform` may be destructured there (they call the
 * running set-up); `system`, `fake`, `dir` and `env` are read in the tests, once it runs.
 */
export function useCliSetup(name: string, options: CliOptions = {}): Omit<CliSetup, 'stop'> {
  let setup: CliSetup | undefined;
  before(async () => {
    setup = await startCliSetup(name, options);
  });
  after(async () => {
    await setup?.stop();
  });
  const running = (): CliSetup => {
    assert.ok(setup, 'the CLI set-up runs from the before hook of the describe block');
    return setup;
  };
  return {
    get system() {
      return running().system;
    },
    get fake() {
      return running().fake;
    },
    get dir() {
      return running().dir;
    },
    get env() {
      return running().env;
    },
    psc: (...args) => running().psc(...args),
    pscJson: <T>(...args: string[]) => running().pscJson<T>(...args),
    addPlatform: (overrides) => running().addPlatform(overrides),
  };
}
