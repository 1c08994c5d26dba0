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

/**
 * Polls the job ledger until every job has finished, showing pages and records as they grow.
 * Ctrl-C or a lost gateway ends the wait, not the jobs: either says so and how to follow again.
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
  process.once('SIGINT', interrupted);
  try {
    for (;;) {
      const jobs = await Promise.all(
        ids.map((id) =>
          call(api, api.client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })),
        ),
      ).catch((err: unknown) => {
        // No answer, or a 502–504: the gateway went away (a refused key is said as it is).
        const gone = err instanceof CliError && err.exitCode === EXIT.unreachable;
        if (!gone || (err.status !== undefined && err.status < 500)) throw err;
        throw new CliError(`lost the gateway while watching: ${err.message}`, {
          exitCode: EXIT.unreachable,
          hint: keepsRunning(ids, ' when the gateway is back'),
        });
      });
      view.update(totals(jobs));
      if (jobs.every(isFinished) || Date.now() > deadline) return jobs;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
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
