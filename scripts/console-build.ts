/**
 * The operator console (libs/console) is a browser app: Vite bundles it into libs/console/dist,
 * which the gateway serves at /ui. Called by scripts/build.ts, so `npm run build`, `npm start`
 * and every e2e test that launches the services have it.
 *
 * Skipped when dist/index.html is newer than every input (the console's sources and the
 * generated API client it imports), so an up-to-date build costs a directory walk. Parallel test
 * processes build at once: a lock directory (mkdir is atomic) lets one run Vite while the others
 * wait for it and then find the build up to date.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_STALE_MS = 5 * 60_000;
const LOCK_WAIT_MS = 3 * 60_000;

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function upToDate(root: string): boolean {
  const dir = join(root, 'libs', 'console');
  const built = join(dir, 'dist', 'index.html');
  if (!existsSync(built)) return false;
  const inputs = [
    join(dir, 'src'),
    join(dir, 'index.html'),
    join(dir, 'vite.config.ts'),
    join(dir, 'package.json'),
    join(root, 'libs', 'api-client', 'src'),
  ];
  return Math.max(...inputs.map(newestMtime)) <= statSync(built).mtimeMs;
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function lock(path: string): boolean {
  try {
    mkdirSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A builder that died (killed test run) leaves its lock behind.
    if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS)
      rmSync(path, { force: true, recursive: true });
    return false;
  }
}

/** Builds the console unless up to date; returns whether Vite ran. */
export function buildConsole(root: string): boolean {
  const dir = join(root, 'libs', 'console');
  if (upToDate(root)) return false;
  const lockPath = join(dir, '.build-lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!lock(lockPath)) {
    if (Date.now() > deadline) throw new Error(`console build: ${lockPath} held too long`);
    sleep(200);
  }
  try {
    if (upToDate(root)) return false;
    const vite = join(dir, 'node_modules', 'vite', 'bin', 'vite.js');
    const run = spawnSync(process.execPath, [vite, 'build'], { cwd: dir, stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`console build: vite exited with ${run.status}`);
    return true;
  } finally {
    rmSync(lockPath, { force: true, recursive: true });
  }
}
