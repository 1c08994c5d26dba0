import { parseArgs } from 'node:util';

/**
 * In run order: the peers next to scenario 1, whose job they repeat; fan-out before the
 * scheduler, which is left paused so its schedules stop firing.
 */
export const SCENARIOS = [
  'pipeline',
  'peers',
  'bulk',
  'gateway',
  'fanout',
  'scheduler',
  'memory',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchArgs {
  quick: boolean;
  only: ScenarioName[];
  reps: number;
  /** Scenario 1: sync jobs per repetition, resources they rotate over, records per page. */
  jobs: number;
  resources: number;
  pageRecords: number;
  /** Peers scenario: jobs per burst (per side, job type and repetition). */
  peerJobs: number;
  /** Scenario 2: records in the resource and page size. */
  bulk: number;
  bulkPage: number;
  /** Scenario 3: autocannon seconds per run and connections. */
  duration: number;
  connections: number;
  /** Scenario 4: schedules due at once. */
  schedules: number;
  /** Scenario 5: children of one collection. */
  children: number;
  /** Scenario 6: records exported. */
  exportRecords: number;
  /** Start the services in `profileServices` with --cpu-prof and summarise at the end. */
  profile: boolean;
  profileServices: string[];
  /** Start psc's services with the perf map of their JIT code (`perf record` names JS functions). */
  perfMap: boolean;
}

const HELP = `npm run bench -- [options]

  --quick              small sizes, a run under 3 minutes
  --only a,b           scenarios to run: ${SCENARIOS.join(', ')} (default all)
  --reps n             repetitions per scenario (default 3, at least 3 counts as a result)
  --jobs n             scenario 1: sync jobs per repetition (default 5000, quick 60)
  --resources n        scenario 1 and peers: resources the jobs rotate over (default 100, quick 10, max 100)
  --page-records n     scenario 1 and peers: records per job (default 100)
  --peer-jobs n        peers: jobs per burst, per side and job type (default 2000, quick 60)
  --bulk n             scenario 2: records in the resource (default 200000, quick 2000)
  --bulk-page n        scenario 2: page size (default 1000)
  --duration s         scenario 3: seconds per autocannon run (default 10, quick 2)
  --connections n      scenario 3: concurrent connections (default 50)
  --schedules n        scenario 4: schedules due together (default 10000, quick 200)
  --children n         scenario 5: children of the collection (default 2000, quick 100)
  --export n           scenario 6: records exported (default 1000000, quick 20000)
  --profile            run services with --cpu-prof and print where their time went
  --profile-services a,b  which (default sync-worker; e.g. gateway,scheduler)
  --perf-map           psc's services write /tmp/perf-<pid>.map, so Linux perf names their JS
                       functions (CPU time as the kernel counts it; see bench/README.md)
  --help`;

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      reps: { type: 'string' },
      jobs: { type: 'string' },
      resources: { type: 'string' },
      'page-records': { type: 'string' },
      'peer-jobs': { type: 'string' },
      bulk: { type: 'string' },
      'bulk-page': { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      schedules: { type: 'string' },
      children: { type: 'string' },
      export: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-services': { type: 'string', default: 'sync-worker' },
      'perf-map': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (raw: string | undefined, full: number, small: number, name: string): number => {
    if (raw === undefined) return quick ? small : full;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const only = (values.only ?? SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`);
    }
  }
  const args: BenchArgs = {
    quick,
    only: only as ScenarioName[],
    reps: int(values.reps, 3, 3, 'reps'),
    jobs: int(values.jobs, 5_000, 60, 'jobs'),
    resources: Math.min(100, int(values.resources, 100, 10, 'resources')),
    pageRecords: int(values['page-records'], 100, 100, 'page-records'),
    peerJobs: int(values['peer-jobs'], 2_000, 60, 'peer-jobs'),
    bulk: int(values.bulk, 200_000, 2_000, 'bulk'),
    bulkPage: int(values['bulk-page'], 1_000, 1_000, 'bulk-page'),
    duration: int(values.duration, 10, 2, 'duration'),
    connections: int(values.connections, 50, 50, 'connections'),
    schedules: int(values.schedules, 10_000, 200, 'schedules'),
    children: int(values.children, 2_000, 100, 'children'),
    exportRecords: int(values.export, 1_000_000, 20_000, 'export'),
    profile: values.profile,
    profileServices: values['profile-services'].split(',').map((s) => s.trim()),
    perfMap: values['perf-map'],
  };
  return args;
}
