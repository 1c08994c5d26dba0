import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REGISTER = fileURLToPath(new URL('../../src/register.ts', import.meta.url));

export interface FixtureRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a fixture script to completion in a process of its own, loaded as services load the SDK
 * (`--import @psc/telemetry/register`), with only `env` (and PATH) in its environment.
 */
export function runFixture(
  script: URL,
  env: Record<string, string>,
  args: string[] = [],
): Promise<FixtureRun> {
  const fixture = fileURLToPath(script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REGISTER, fixture, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
