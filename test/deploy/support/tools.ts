/**
 * The command-line tools the deploy checks run, found on PATH. A missing one fails the test with
 * the one line that installs it: these checks are never skipped.
 */
import { execFile } from 'node:child_process';
import { constants, accessSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The repository root (this file is test/deploy/support/tools.ts). */
export const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The absolute path of `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** `promtool`, or an error naming the fix. */
export function promtool(): string {
  const path = onPath('promtool');
  if (!path) {
    throw new Error('promtool not found: apt-get -y install prometheus (.ci/run installs it)');
  }
  return path;
}

/** The outcome of a command that may fail: exit code and both streams. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` from the repository root; never throws for a non-zero exit. */
export async function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  const child = exec(file, [...args], {
    cwd: ROOT,
    env: options.env ?? process.env,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 60_000,
  });
  if (options.input !== undefined) child.child.stdin?.end(options.input);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw err;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
