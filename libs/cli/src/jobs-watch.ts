import type { components } from '@psc/api-client';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { call, type Api } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import type { Output } from './output.ts';

export type Job = components['schemas']['Job'];

const FINISHED: ReadonlySet<Job['status']> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
export const isFinished = (job: Job): boolean => FINISHED.has(job.status);

export interface WatchOptions {
  /** How often the ledger is read. */
  intervalMs?: number;
  /** Gives up (the jobs keep running) after this long. */
  timeoutMs?: number;
  /** What the progress is about, e.g. the platform's name. */
  label: string;
}

interface Totals {
  pages: number;
  records: number;
  done: number;
}

function totals(jobs: Job[]): Totals {
  let pages = 0;
  let records = 0;
  for (const job of jobs) {
    pages += job.progress?.pages ?? 0;
    // Progress is reported at most every 250 ms, so a finished job's last pages may be missing
    // from it; its stats hold the final count of records (there is no final count of pages).
    records += Math.max(job.progress?.records ?? 0, job.stats?.fetched ?? 0);
  }
  return { pages, records, done: jobs.filter(isFinished).length };
}

/**
 * Where progress goes: a bar redrawn in place on a terminal; one line per change otherwise
 * (a pipe or a log file gets readable lines, not carriage returns); nothing with `--json`.
 */
function progressView(out: Output, label: string, total: number) {
  if (out.json) return { update() {}, stop() {} };
  if (out.stdout.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: out.stdout,
        format: `${label} {bar} {value}/{total} jobs | {pages} pages | {records} records`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { pages: 0, records: 0 });
    return {
      update(t: Totals) {
        bar.update(t.done, { pages: t.pages, records: t.records });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let last = '';
  return {
    update(t: Totals) {
      const text = `${label}: ${t.pages} pages, ${t.records} records (${t.done}/${total} jobs done)`;
      if (text !== last) out.line(text);
      last = text;
    },
    stop() {},
  };
}

/** "The job keeps running. Follow it again: psc jobs watch <id>", for messages. */
const keepsRunning = (ids: string[], when = ''): string =>
  ids.length === 1
    ? `The job keeps running. Follow it again${when}: psc jobs watch ${ids[0]}`
    : `The jobs keep running. Follow one again${when}: psc jobs watch <job> (${ids.join(', ')})`;

/** The wait between polls of a gateway that is away: 0.5 s, doubling up to 5 s. */
const retryDelay = (attempt: number): number => Math.min(500 * 2 ** attempt, 5_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls the job ledger until every job has finished, showing pages and records as they grow.
 * A gateway that stops answering (refused, timed out, 502/503/504: a restart, a rolling deploy)
 * is asked again with backoff for up to the request timeout (`--request-timeout`, 30 s by
 * default), said once on stderr; past that, or on Ctrl-C, the wait ends, not the jobs: either
 * says so and how to follow again.
 */
export async function watchJobs(
  api: Api,
  out: Output,
  ids: string[],
  options: WatchOptions,
): Promise<Job[]> {
  const intervalMs = options.intervalMs ?? 500;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const view = progressView(out, options.label, ids.length);
  // Node's default would end the process mid-line, the bar's cursor still hidden.
  const interrupted = () => {
    view.stop();
    const hint = keepsRunning(ids);
    const exitCode = EXIT.interrupted;
    out.stderr.write(
      out.json
        ? `${JSON.stringify({ error: { message: 'stopped watching', hint }, exitCode })}\n`
        : `\nStopped watching. ${hint}\n`,
    );
    process.exit(exitCode);
  };
  // Said on stderr in human mode only: with --json, stderr carries nothing but a final error.
  const notice = (text: string) => {
    if (!out.json) out.stderr.write(`${out.stdout.isTTY ? '\n' : ''}${pc.yellow(text)}\n`);
  };
  /** Since when (the start of the first failed poll) the gateway has not answered, and retries. */
  let away: { since: number; retries: number } | undefined;
  process.once('SIGINT', interrupted);
  try {
    for (;;) {
      const polledAt = Date.now();
      let jobs: Job[];
      try {
        jobs = await Promise.all(
          ids.map((id) =>
            call(api, api.client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })),
          ),
        );
      } catch (err) {
        // A refused key, a 4xx or a 500 is said as it is; only a gateway that is away is waited for.
        if (!(err instanceof CliError) || !err.transient) throw err;
        away ??= { since: polledAt, retries: 0 };
        const left = away.since + api.timeoutMs - Date.now();
        if (left <= 0) {
          throw new CliError(`lost the gateway while watching: ${err.message}`, {
            exitCode: EXIT.unreachable,
            hint: `It did not answer for ${Math.round((Date.now() - away.since) / 1000)} s (--request-timeout). ${keepsRunning(ids, ' when the gateway is back')}`,
          });
        }
        if (away.retries === 0) {
          notice(
            `The gateway is unreachable (${err.message}); retrying for up to ${Math.ceil(api.timeoutMs / 1000)} s (--request-timeout). ${ids.length === 1 ? 'The job keeps' : 'The jobs keep'} running.`,
          );
        }
        await sleep(Math.min(retryDelay(away.retries++), left));
        continue;
      }
      if (away) notice('The gateway answers again: watching on.');
      away = undefined;
      view.update(totals(jobs));
      if (jobs.every(isFinished) || Date.now() > deadline) return jobs;
      await sleep(intervalMs);
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    view.stop();
  }
}

const colour = (status: Job['status']): string =>
  status === 'succeeded'
    ? pc.green(status)
    : status === 'failed' || status === 'dead'
      ? pc.red(status)
      : status === 'cancelled'
        ? pc.yellow(status)
        : status;

/** The stats of finished jobs: one row per job, then each failure's message. */
export function printJobStats(out: Output, jobs: Job[]): void {
  out.table(
    ['job', 'resource', 'status', 'fetched', 'inserted', 'updated', 'unchanged', 'deleted'],
    jobs.map((j) => [
      j.id,
      j.resource,
      colour(j.status),
      j.stats?.fetched,
      j.stats?.inserted,
      j.stats?.updated,
      j.stats?.unchanged,
      j.stats?.deleted,
    ]),
  );
  for (const job of jobs) {
    if (job.error) out.line(pc.red(`${job.resource}: ${job.error.class}: ${job.error.message}`));
  }
}

export const allSucceeded = (jobs: Job[]): boolean => jobs.every((j) => j.status === 'succeeded');
