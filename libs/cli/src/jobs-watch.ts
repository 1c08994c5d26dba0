import type { components } from '@psc/api-client';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { call, type Api } from './api.ts';
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

/** Polls the job ledger until every job has finished, showing pages and records as they grow. */
export async function watchJobs(
  api: Api,
  out: Output,
  ids: string[],
  options: WatchOptions,
): Promise<Job[]> {
  const intervalMs = options.intervalMs ?? 500;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const view = progressView(out, options.label, ids.length);
  try {
    for (;;) {
      const jobs = await Promise.all(
        ids.map((id) =>
          call(api, api.client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })),
        ),
      );
      view.update(totals(jobs));
      if (jobs.every(isFinished) || Date.now() > deadline) return jobs;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
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
