import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface SpawnServiceOptions {
  /** Label for echoed output and error messages. */
  name: string;
  /** Absolute path of the service's entry file, e.g. services/gateway/src/main.ts. */
  entry: string;
  /** The child's whole environment besides PATH: nothing else leaks in from the test process. */
  env: Record<string, string>;
  /** Environment of the production launch ({@link ServiceLaunch}), under `env`. */
  launchEnv?: Readonly<Record<string, string>>;
  /** Default: the nearest directory above `entry` with a package.json. */
  cwd?: string;
  /** Node flags placed before `entry`. Default `['--import', '@psc/telemetry/register']`. */
  nodeArgs?: string[];
  /** Arguments for the service itself, placed after `entry`, e.g. `['--until-drained']`. */
  args?: string[];
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 10000. */
  stopTimeoutMs?: number;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LineMatcher = RegExp | ((line: string) => boolean);

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** The last 500 lines of stdout and stderr, interleaved in arrival order. */
  lines(): string[];
  /**
   * Resolves with the first retained or future line that matches. Rejects on timeout (default
   * 15000 ms) or when the process exits first, quoting the last lines either way.
   */
  waitForLine(matcher: LineMatcher, timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGTERM); false if the process is gone. */
  kill(signal?: NodeJS.Signals): boolean;
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<ServiceExit>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process has exited. */
  stop(): Promise<ServiceExit>;
}

const MAX_LINES = 500;
const running = new Set<ChildProcess>();
let exitHooksInstalled = false;

/**
 * Runs a service entry file in a child Node process (the same Node binary as the test), captures
 * its output line by line and registers it so it is killed if the test process exits early.
 * Output is echoed to stderr when PSC_TEST_VERBOSE=1.
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  installExitHooks();
  const nodeArgs = options.nodeArgs ?? ['--import', '@psc/telemetry/register'];
  const child = spawn(process.execPath, [...nodeArgs, options.entry, ...(options.args ?? [])], {
    // `--import <package>` resolves from the cwd, so it must be inside the service package.
    cwd: options.cwd ?? packageDirOf(options.entry),
    env: { PATH: process.env.PATH ?? '', ...options.launchEnv, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const retained: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const verbose = process.env.PSC_TEST_VERBOSE === '1';
  const onLine = (line: string): void => {
    retained.push(line);
    if (retained.length > MAX_LINES) retained.shift();
    if (verbose) process.stderr.write(`[${options.name}] ${line}\n`);
    for (const listener of listeners) listener(line);
  };
  splitLines(child.stdout, onLine);
  splitLines(child.stderr, onLine);

  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('error', (err) => {
      onLine(`[spawn error] ${err.message}`);
      running.delete(child);
      resolve({ code: null, signal: null });
    });
    // 'close' rather than 'exit': it fires after the pipes have drained, so lines() is complete.
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  let exit: ServiceExit | undefined;
  void exited.then((result) => (exit = result));

  const tail = (): string => retained.slice(-20).join('\n');

  const waitForLine = (matcher: LineMatcher, timeoutMs = 15_000): Promise<string> => {
    const test = typeof matcher === 'function' ? matcher : (line: string) => matcher.test(line);
    const seen = retained.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (line: string): void => {
        if (!test(line)) return;
        finish();
        resolve(line);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `${options.name}: no line matching ${describeMatcher(matcher)} within ${timeoutMs} ms; last lines:\n${tail()}`,
          ),
        );
      }, timeoutMs);
      listeners.add(listener);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(listener)) return;
        finish();
        reject(
          new Error(
            `${options.name} exited (code ${code}, signal ${signal}) before a line matching ${describeMatcher(matcher)}; last lines:\n${tail()}`,
          ),
        );
      });
    });
  };

  const kill = (signal: NodeJS.Signals = 'SIGTERM'): boolean =>
    exit === undefined && child.kill(signal);

  let stopping: Promise<ServiceExit> | undefined;
  const stop = (): Promise<ServiceExit> => {
    stopping ??= (async () => {
      if (exit) return exit;
      kill('SIGTERM');
      const escalate = setTimeout(() => kill('SIGKILL'), options.stopTimeoutMs ?? 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(escalate);
      }
    })();
    return stopping;
  };

  return {
    name: options.name,
    pid: child.pid,
    lines: () => [...retained],
    waitForLine,
    kill,
    exited,
    stop,
  };
}

function describeMatcher(matcher: LineMatcher): string {
  return matcher instanceof RegExp
    ? matcher.toString()
    : `predicate ${matcher.name || '(anonymous)'}`;
}

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) onLine(part.replace(/\r$/, ''));
  });
  stream.on('end', () => {
    if (partial) onLine(partial);
    partial = '';
  });
}

function packageDirOf(entry: string): string {
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(entry);
  }
}

// A failed assertion or Ctrl-C must not leave services holding ports and queues.
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = (): void => {
    for (const child of running) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      // Keep the default "die on signal" unless someone else is handling it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
