import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node flags every psc service runs with, after its own {@link SERVICE_EXTRA_FLAGS}
 * (deploy/entrypoint.sh repeats both for the image):
 * - `--no-parallel-scavenge`: V8 collects the young generation on the main thread only. By
 *   default it splits each scavenge across helper threads sized from the host's cores, not from
 *   the container's CPU share, and for young generations of a few MB the hand-offs cost more
 *   than they save: under bench scenario 1 on two cores the sync-worker's helpers, scavenging,
 *   used 18 % more CPU on top of its main thread's, whose pauses were no shorter. Without them psc's
 *   CPU per job fell from 1.67–1.80 × the baseline's to 1.48–1.58 ×. Marking and sweeping stay
 *   concurrent: on the main thread too (`--single-threaded-gc`, or `--no-concurrent-marking`)
 *   they saved a little more CPU, but V8 then let the old generation grow, and the scheduler's
 *   and the gateway's idle RSS read 124–133 MB, over the 120 MB budget.
 * - `psc-dist` makes `@psc/*` libraries resolve to their built dist/ (scripts/build.ts), so no
 *   process pays for Node's TypeScript stripper;
 * - the telemetry bootstrap must load before anything it instruments.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [
  '--no-parallel-scavenge',
  '--conditions=psc-dist',
  '--import',
  '@psc/telemetry/register',
];

/**
 * Per service: the size of V8's young generation, and the gateway's old-generation cap.
 *
 * - The services that answer reads under concurrent load (gateway, platform-registry) get a
 *   16 MB semi-space. With 2 MB, 50 concurrent requests kept each scavenge copying every
 *   request in flight: garbage collection was 24 % of the gateway's CPU and the two reads of
 *   bench scenario 3 ran at 0.29 / 0.38 of bare Koa; with 16 MB, 0.34 / 0.50 (bench/README.md).
 *   V8 grows the semi-space only under load, so their idle RSS stays under 120 MB.
 * - The sync-worker gets 8 MB: it holds whole platform pages (four jobs in flight, each a page
 *   parsed, mapped and serialised), and with 2 MB every scavenge copied the pages in flight and
 *   promoted them: garbage collection was 17 % of its CPU under bench scenario 1. With 8 MB its
 *   CPU per job fell ~11 % (16 MB: ~19 %), idle RSS 107 MB, peak under scenario 1 221–241 MB
 *   (16 MB read 241 MB in a quick run: no room under the 250 MB budget).
 * - The scheduler gets 4 MB: with 2 MB, the run-now batches and job-event bundles in flight
 *   under bench scenario 1 were promoted by the frequent scavenges and kept concurrent marking
 *   busy (garbage collection, helper threads included, a third of its CPU); with 4 MB its CPU
 *   per job fell from 8.3–8.9 % of psc's to 7.2 %, and its idle RSS read 111 MB (106 MB with
 *   2 MB; 153 MB with 16 MB, because V8 grows the semi-space during start-up and keeps it).
 * - The collector keeps 2 MB: under scenario 1 its scavenge pauses add up to a third of its
 *   CPU, but that is 0.06 ms a job, 1 % of psc's, less than the ~30 MB of idle RSS a larger
 *   semi-space would keep from start-up (migrations, topology).
 * - The sync-worker bounds what garbage may pile up between full collections. V8 otherwise
 *   starts one when the old generation has grown up to ~4 × what the last one kept (it grows the
 *   factor while collections are quick), and for Buffers (socket reads, platform bodies, query
 *   texts) only once they have grown 64 MB past the last level, whatever the live size. Under
 *   bench scenario 1 the promoted request and page objects, and the Buffers they hold, piled up
 *   to ~60 MB and ~87 MB of garbage; malloc's heap grew with the Buffers and kept the memory, and
 *   the worker's peak read 256–316 MB (budget 250). Counting Buffers in the heap's limits
 *   (`--external-memory-accounted-in-global-limit`) and a fixed growth factor of 2
 *   (`--heap-growing-percent=100`) start a full collection once heap and Buffers have doubled
 *   since the last: peak 172 MB. The flag alone read 218–236 MB in short runs and 287 in a full
 *   one; a factor of 1.5 read 147 MB. psc's CPU per job stayed within run-to-run noise (1.86,
 *   1.90 and 1.92 × the bare stack's with neither, factor 2 and factor 1.5).
 *   The collector gets the same bound: it holds the children's pages and documents the same
 *   way, and under bench scenario 5 (2,000 children on two collectors) the busier one peaked at
 *   160–212 MB without it and 147–155 MB with it (`--only fanout,memory`, one repetition each,
 *   five and four runs).
 * - The gateway's old generation is capped: under 50 concurrent requests V8 otherwise grew it
 *   to ~90 MB and kept it (RSS 190 MB, at the export budget of 200 MB before exporting
 *   anything). Imports are streamed, one item (PSC_IMPORT_MAX_ITEM_BYTES) at a time, so no
 *   request needs more. Workers hold whole platform pages and get no cap.
 */
export const SERVICE_EXTRA_FLAGS: Readonly<Record<string, readonly string[]>> = {
  gateway: ['--max-old-space-size=128', '--max-semi-space-size=16'],
  'platform-registry': ['--max-semi-space-size=16'],
  scheduler: ['--max-semi-space-size=4'],
  'sync-worker': [
    '--max-semi-space-size=8',
    '--external-memory-accounted-in-global-limit',
    '--heap-growing-percent=100',
  ],
  collector: [
    '--max-semi-space-size=2',
    '--external-memory-accounted-in-global-limit',
    '--heap-growing-percent=100',
  ],
};

/**
 * Environment every psc service runs with (deploy/entrypoint.sh sets it for the image too): two
 * malloc arenas instead of glibc's eight per core. Buffers outside V8's heap (sockets, platform
 * pages, query results) are malloc'd from whichever thread, and with many arenas their freed
 * memory stays spread and resident: the sync-worker's peak under bench scenario 1 read 226 MB
 * with the default, 207 MB with two, at the same CPU per job.
 */
const SERVICE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export interface ServiceLaunch {
  /** The built entry file, `services/<name>/dist/src/main.js`. */
  entry: string;
  nodeArgs: string[];
  /** {@link SERVICE_ENV}: spawnService puts it under the caller's own environment. */
  launchEnv: Readonly<Record<string, string>>;
  /** The service's package directory: `--import @psc/telemetry/register` resolves from it. */
  cwd: string;
}

/** How to run service `name` of the repository at `root` exactly as production does. */
export function serviceLaunch(root: string, name: string): ServiceLaunch {
  const cwd = join(root, 'services', name);
  const entry = join(cwd, 'dist', 'src', 'main.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` (scripts/build.ts) first`);
  }
  return {
    entry,
    nodeArgs: [...(SERVICE_EXTRA_FLAGS[name] ?? []), ...SERVICE_NODE_FLAGS],
    launchEnv: SERVICE_ENV,
    cwd,
  };
}
