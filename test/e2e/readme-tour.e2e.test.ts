import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, waitFor } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { tourScript, type TourCommand } from '../support/readme-tour.ts';

const ROOT = join(import.meta.dirname, '../..');
const README_GATEWAY = 'http://127.0.0.1:8080';
const README_DEMO = 'http://127.0.0.1:9400';

/**
 * The README's API tour, pasted into bash as a reader would after `npm start`: the same blocks,
 * only the gateway's and the demo platform's addresses moved to this run's free ports, and the
 * admin key where npm start keeps it. A wrapper around curl notes the status of each request and
 * the line that sent it; nothing else is changed.
 */
describe('README API tour', { timeout: 300_000 }, () => {
  let system: System;
  let demo: ChildProcess;
  let demoUrl: string;
  let workDir: string;

  before(async () => {
    const port = await freePort();
    demoUrl = `http://127.0.0.1:${port}`;
    demo = spawn(process.execPath, ['scripts/demo-platform.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DEMO_PLATFORM_PORT: String(port) },
      stdio: 'ignore',
    });
    await waitFor(
      () =>
        fetch(`${demoUrl}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        message: 'demo platform answers /health',
      },
    );
    system = await startSystem({ name: 'readme-tour' });
    workDir = mkdtempSync(join(tmpdir(), 'psc-tour-'));
    mkdirSync(join(workDir, '.psc'));
    writeFileSync(
      join(workDir, '.psc/dev-secrets.json'),
      JSON.stringify({ adminKey: system.adminKey }),
    );
  });

  after(async () => {
    await system?.stop();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGTERM');
      await once(demo, 'exit');
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('when every shell block of the tour is pasted into bash, then every curl sends the API key and gets the status the README says (2xx unless it names one)', async () => {
    const tour = tourScript(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    assert.ok(tour.commands.length >= 40, `found only ${tour.commands.length} curl commands`);
    for (const c of tour.commands) assert.match(c.text, /-H "X-API-Key: \$K"/, `line ${c.from}`);

    const log = join(workDir, 'statuses.log');
    const prelude = [
      'set -eo pipefail',
      `curl() { command curl "$@" -w "%{stderr}PSC_STATUS \${BASH_LINENO[0]} %{http_code}\\n" 2>>"${log}"; }`,
    ];
    // Script line n + prelude.length is README line lineOf[n].
    const lineOf = tour.lines.map((l) => l.line);
    const script = [
      ...prelude,
      ...tour.lines.map((l) =>
        l.text.replaceAll(README_GATEWAY, system.gatewayUrl).replaceAll(README_DEMO, demoUrl),
      ),
    ].join('\n');
    writeFileSync(join(workDir, 'tour.sh'), `${script}\n`);

    const bash = spawn('bash', ['tour.sh'], {
      cwd: workDir,
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: workDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    bash.stdout.on('data', (d: Buffer) => (output += d.toString()));
    bash.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => bash.kill('SIGKILL'), 240_000);
    const [code] = (await once(bash, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, `the tour stopped with ${code}:\n${output.slice(-3_000)}`);

    const sent = readFileSync(log, 'utf8')
      .split('\n')
      .flatMap((l) => {
        const m = /^PSC_STATUS (\d+) (\d{3})$/.exec(l);
        return m
          ? [{ line: lineOf[Number(m[1]) - prelude.length - 1]!, status: Number(m[2]) }]
          : [];
      });
    const wrong = tour.commands.flatMap((c: TourCommand) => {
      const statuses = sent.filter((s) => s.line >= c.from && s.line <= c.to).map((s) => s.status);
      const last = statuses.at(-1);
      const ok =
        last !== undefined &&
        (c.expected.length > 0 ? c.expected.includes(last) : last >= 200 && last < 300);
      return ok ? [] : [`README line ${c.from}: got ${statuses.join(',') || 'no request'}`];
    });
    assert.deepEqual(wrong, [], `output:\n${output.slice(-3_000)}`);
  });
});
