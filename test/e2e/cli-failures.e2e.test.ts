import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boothSample, waitFor } from '@psc/testing';
import { boothPlatform } from '../support/platforms.ts';
import { runPsc, show, startPsc, useCliSetup, useStandIns } from '../support/psc.ts';

describe('psc when things go wrong: one clear line, a documented exit code', () => {
  const setup = useCliSetup('cli-failures');
  const { psc, addPlatform } = setup;
  const standIn = useStandIns();

  it('when the gateway accepts the connection but never answers, then psc gives up after --request-timeout with exit 3 and says so', async () => {
    const url = await standIn(() => {});
    const started = Date.now();
    const live = startPsc(
      ['platforms', 'ls', '--request-timeout', '1'],
      { PSC_URL: url, PSC_API_KEY: 'psc_k', XDG_CONFIG_HOME: setup.dir },
      { deadlineMs: 20_000 },
    );
    const run = await live.exited;
    assert.equal(run.code, 3, show(run));
    assert.ok(Date.now() - started < 15_000, 'it gave up on its own');
    assert.match(run.stderr, new RegExp(`the gateway at ${url} did not answer within 1 s`));
    assert.match(run.stderr, /--request-timeout/);
    assert.equal(run.stdout, '');
  });

  it('when PSC_URL answers with something that is not the gateway, then psc exits 3 and says to check PSC_URL', async () => {
    const html = await standIn((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><p>a wiki</p>');
    });
    const empty = await standIn((_req, res) => res.end());
    const proxy = await standIn((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
    });
    const { gatewayUrl } = setup.system;
    const key = { PSC_API_KEY: setup.system.adminKey, XDG_CONFIG_HOME: setup.dir };
    // The console's page, a wiki, an empty answer, a proxy's own error page.
    for (const [url, says] of [
      [`${gatewayUrl}/ui`, /the answer from \S+\/ui is not JSON/],
      [html, /is not JSON/],
      [empty, /answered HTTP 200 with no body/],
      [proxy, /answered HTTP 502 Bad Gateway \(text\/html\), not an answer of psc's gateway/],
    ] as const) {
      const run = await runPsc(['platforms', 'ls'], { ...key, PSC_URL: url });
      assert.equal(run.code, 3, `${url}\n${show(run)}`);
      assert.match(run.stderr, says, show(run));
      assert.match(run.stderr, /Check PSC_URL .*without \/api\/v1/, show(run));
      assert.doesNotMatch(run.stderr, /at \S+ \(|TypeError|Is psc running/, show(run));
    }
    // A path the gateway does not serve is not "check the id".
    const wrongPath = await runPsc(['platforms', 'ls'], { ...key, PSC_URL: `${gatewayUrl}/psc` });
    assert.equal(wrongPath.code, 1, show(wrongPath));
    assert.match(wrongPath.stderr, /no route for GET \/psc\/api\/v1\/platforms/);
    assert.match(wrongPath.stderr, /No such route on this gateway\. Check PSC_URL/);
    assert.doesNotMatch(wrongPath.stderr, /Check the id or name/);
    // The API's prefix given by habit names the same gateway.
    const prefixed = await runPsc(['platforms', 'ls', '--json'], {
      ...key,
      PSC_URL: `${gatewayUrl}/api/v1/`,
    });
    assert.equal(prefixed.code, 0, show(prefixed));
    assert.ok(Array.isArray((JSON.parse(prefixed.stdout) as { items: unknown[] }).items));
  });

  it('when the address or key cannot be used, then psc exits 2 before any request, without repeating a secret', async () => {
    const { gatewayUrl, adminKey } = setup.system;
    const cases: [Record<string, string>, RegExp][] = [
      [{ PSC_URL: 'gateway:8080' }, /the gateway address gateway:8080 is not http\(s\)/],
      [{ PSC_URL: 'not a url' }, /the gateway address not a url is not a URL/],
      [
        { PSC_URL: gatewayUrl.replace('//', '//ops:hunter2@') },
        /the gateway address http:\/\/ops:\*\*\*@127\.0\.0\.1:\d+ carries a login/,
      ],
      [{ PSC_API_KEY: 'psc_ключ' }, /the API key has characters an HTTP header cannot carry/],
    ];
    for (const [env, says] of cases) {
      const run = await runPsc(['platforms', 'ls'], {
        PSC_URL: gatewayUrl,
        PSC_API_KEY: adminKey,
        XDG_CONFIG_HOME: setup.dir,
        ...env,
      });
      assert.equal(run.code, 2, show(run));
      assert.match(run.stderr, says, show(run));
      assert.doesNotMatch(run.stderr, /hunter2|ключ|cannot reach/, show(run));
    }
  });

  it('when --json is given and the command line is wrong, then stderr is one JSON error and stdout is empty', async () => {
    for (const args of [
      ['frobnicate', '--json'],
      ['--json', 'jobs', 'show', 'not-an-id'],
      ['jobs', '--json'],
      ['jobs', 'ls', '-n', 'many', '--json'],
    ]) {
      const run = await psc(...args);
      assert.equal(run.code, 2, show(run));
      assert.equal(run.stdout, '', show(run));
      const body = JSON.parse(run.stderr) as {
        error: { message: string; hint: string };
        exitCode: number;
      };
      assert.equal(body.exitCode, 2);
      assert.ok(body.error.message.length > 0 && !body.error.message.startsWith('error:'));
      assert.match(body.error.hint, /--help/);
    }
  });

  it('when a time or a number is not valid, then psc exits 2 before asking the gateway, and a plain date is taken', async () => {
    const cases: [string[], RegExp][] = [
      [['jobs', 'ls', '--since', 'yesterday'], /expected an ISO date or time/],
      [['logs', '--until', '2026-13-45'], /expected an ISO date or time/],
      [['jobs', 'ls', '-n', '0'], /expected a whole number from 1 to 500/],
      [['logs', '-n', '5000'], /expected a whole number from 1 to 1000/],
      [['jobs', 'ls', '-n', '1e2'], /expected a whole number/],
      [['run', 'sync', '--priority', '10'], /expected a whole number from 1 to 9/],
      [['sync', 'booths', 'once', '--timeout', '-5'], /expected a whole number of at least 1/],
    ];
    for (const [args, says] of cases) {
      const run = await psc(...args);
      assert.equal(run.code, 2, `${args.join(' ')}\n${show(run)}`);
      assert.match(run.stderr, says, args.join(' '));
      assert.doesNotMatch(run.stderr, /validation_failed/, args.join(' '));
    }
    // What an operator types: a day, or a time with its offset; the API wants UTC.
    for (const since of ['2026-01-01', '2026-01-01T08:00:00+02:00']) {
      const run = await psc('jobs', 'ls', '--since', since, '--json');
      assert.equal(run.code, 0, show(run));
    }
  });

  it('when its output cannot be written (a full disk), then psc says so in one line and exits 1, also with --json and for --help', async () => {
    const env = {
      PSC_URL: setup.system.gatewayUrl,
      PSC_API_KEY: setup.system.adminKey,
      XDG_CONFIG_HOME: setup.dir,
    };
    for (const args of [['platforms', 'ls'], ['platforms', 'ls', '--json'], ['--help']]) {
      const run = await runPsc(args, env, { stdoutTo: '/dev/full' });
      assert.equal(run.code, 1, `${args.join(' ')}\n${show(run)}`);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, show(run));
      assert.match(
        args.includes('--json')
          ? (JSON.parse(lines[0]!) as { error: { message: string } }).error.message
          : lines[0]!,
        /cannot write the output \(ENOSPC: no space left on device.*\); what was written is incomplete/,
      );
    }
    // The platform list itself was there to print.
    assert.equal((await runPsc(['platforms', 'ls'], env)).code, 0);
  });

  it('when the gateway fails inside, then psc prints its message with the trace id to look up', async () => {
    const url = await standIn((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'internal', message: 'internal error', traceId: 'f00d' } }),
      );
    });
    const env = { PSC_URL: url, PSC_API_KEY: 'psc_k', XDG_CONFIG_HOME: setup.dir };
    const run = await runPsc(['scheduler', 'status'], env);
    assert.equal(run.code, 1, show(run));
    assert.match(run.stderr, /^error: internal error \(internal, trace f00d\)\n/);
    assert.match(run.stderr, /psc logs -l error/);
    const json = await runPsc(['scheduler', 'status', '--json'], env);
    assert.equal((JSON.parse(json.stderr) as { error: { traceId: string } }).error.traceId, 'f00d');
  });

  /** A job that runs for a while: 50 booths, 10 a page, each page 4 s late. */
  async function slowJob(): Promise<string> {
    const path = '/booth/slow-failures';
    setup.fake.setCollection(path, boothSample(50));
    setup.fake.setLatency(4_000, { path });
    const name = await addPlatform({
      resources: [{ ...boothPlatform(setup.fake.url).resources[0]!, request: { path } }],
    });
    const queued = await psc('sync', name, 'once', '--no-wait', '--json');
    assert.equal(queued.code, 0, show(queued));
    return (JSON.parse(queued.stdout) as { jobs: { id: string }[] }).jobs[0]!.id;
  }

  it('when Ctrl-C stops `jobs watch`, then psc exits 130 saying the job keeps running, and a terminal gets its cursor back', async () => {
    const jobId = await slowJob();

    const piped = startPsc(['jobs', 'watch', jobId], setup.env);
    await waitFor(() => /0\/1 jobs done/.test(piped.run.stdout), { timeoutMs: 20_000 });
    piped.kill('SIGINT');
    const stopped = await piped.exited;
    assert.equal(stopped.code, 130, show(stopped));
    assert.match(
      stopped.stderr,
      new RegExp(`The job keeps running\\. Follow it again: psc jobs watch ${jobId}`),
    );

    // A script gets its JSON error, and nothing on stdout. It prints nothing while it waits, so
    // a stand-in gateway tells when its first poll (after the handler is set) has arrived.
    let polled = false;
    const polledUrl = await standIn((_req, res) => {
      polled = true;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: jobId, status: 'running', resource: 'booths' }));
    });
    const scripted = startPsc(['jobs', 'watch', jobId, '--json'], {
      ...setup.env,
      PSC_URL: polledUrl,
    });
    await waitFor(() => polled, { timeoutMs: 20_000 });
    scripted.kill('SIGINT');
    const json = await scripted.exited;
    assert.equal(json.code, 130, show(json));
    assert.equal(json.stdout, '');
    assert.deepEqual(JSON.parse(json.stderr), {
      error: {
        message: 'stopped watching',
        hint: `The job keeps running. Follow it again: psc jobs watch ${jobId}`,
      },
      exitCode: 130,
    });

    // On a terminal the bar hides the cursor while it draws; Ctrl-C must show it again.
    const tty = startPsc(['jobs', 'watch', jobId], setup.env, { tty: true });
    await waitFor(() => /0\/1 jobs/.test(tty.run.stdout), { timeoutMs: 20_000 });
    tty.type('\x03');
    const typed = await tty.exited;
    const afterBar = typed.stdout.slice(typed.stdout.lastIndexOf('0/1 jobs'));
    assert.ok(afterBar.includes('\x1b[?25h'), JSON.stringify(typed.stdout));
    assert.match(typed.stdout, /Stopped watching\. The job keeps running/);

    const job = await setup.system.api<{ status: string }>(`/api/v1/jobs/${jobId}`);
    assert.ok(['queued', 'running'].includes(job.body.status), job.body.status);
  });

  // Last: it stops this file's gateway.
  it('when the gateway stays away during `jobs watch` past --request-timeout, then psc, having said it retries, exits 3 saying the job keeps running and how to follow it again', async () => {
    const jobId = await slowJob();
    const live = startPsc(['jobs', 'watch', jobId, '--request-timeout', '2'], setup.env);
    await waitFor(() => /0\/1 jobs done/.test(live.run.stdout), { timeoutMs: 20_000 });
    await setup.system.services.get('gateway')!.process.stop();
    const run = await live.exited;
    assert.equal(run.code, 3, show(run));
    assert.match(
      run.stderr,
      /^The gateway is unreachable \(.+\); retrying for up to 2 s \(--request-timeout\)\. The job keeps running\.\n/,
    );
    assert.match(
      run.stderr,
      /\nerror: lost the gateway while watching: cannot reach the gateway at /,
    );
    assert.match(
      run.stderr,
      new RegExp(
        `It did not answer for 2 s \\(--request-timeout\\)\\. The job keeps running\\. Follow it again when the gateway is back: psc jobs watch ${jobId}`,
      ),
    );
  });
});
