import { spawnSync } from 'node:child_process';

/**
 * Runs one of the repository's scripts (`scripts/<name>.ts`, what an `npm run` command runs) as
 * an operator would, with `env` and PATH and nothing else of this process's environment: what a
 * script reads beyond `env` falls back to its own defaults.
 */
export function runScript(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [`scripts/${name}.ts`, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
