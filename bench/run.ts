/*
 * `npm run bench [-- --quick]`: psc against the bare-metal limit of its own stack, in one run.
 * Every scenario runs psc (real services as processes, on a fresh vhost and database) and,
 * interleaved, a baseline doing the same work with bare amqplib, pg and Koa. See bench/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

import { createManagementApi } from '@psc/messaging';
import { createIsolatedEnv, startFakePlatform, startInfra } from '@psc/testing';
import { createBaselineSchema } from './baseline/schema.ts';
import { SCENARIOS, parseBenchArgs } from './lib/args.ts';
import { installSignalCleanup, onCleanup, runCleanups } from './lib/cleanup.ts';
import { spawnBenchProcess, type BenchContext } from './lib/context.ts';
import { describeMachine } from './lib/machine.ts';
import { summariseProfiles } from './lib/profile.ts';
import { startPsc } from './lib/psc.ts';
import { createReport } from './lib/report.ts';
import { rssMb } from './lib/rss.ts';
import { SCENARIO_RUNNERS } from './scenarios/index.ts';

// Only the local servers: never probe for a container runtime (the libs' test default).
process.env.TEST_INFRA ??= 'external';

const args = parseBenchArgs(process.argv.slice(2));
installSignalCleanup();
const report = createReport();
const startedAt = new Date();
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const profileDir = args.profile
  ? `${resultsDir}profiles/${startedAt.toISOString().replace(/[:.]/g, '-')}`
  : undefined;
let failed = 0;

try {
  console.log(
    `psc bench${args.quick ? ' (quick)' : ''}: ${args.only.join(', ')}; ${args.reps} repetitions, medians`,
  );
  const infra = await startInfra();
  const env = await createIsolatedEnv({ name: 'bench' });
  onCleanup('vhost and database', () => env.cleanup());
  const db = new pg.Pool({ connectionString: env.databaseUrl, max: 8 });
  onCleanup('database pool', () => db.end());
  const management = createManagementApi(infra.managementUrl);
  const machine = await describeMachine(db, management);
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGb} GB RAM; node ${machine.node}, ` +
      `rabbitmq ${machine.rabbitmq}, postgres ${machine.postgres}`,
  );
  await createBaselineSchema(db);
  const fake = await startFakePlatform();
  onCleanup('fake platform', () => fake.stop());
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const psc = await startPsc(env, {
    ...(profileDir ? { cpuProfileDir: profileDir, profileServices: args.profileServices } : {}),
    perfMap: args.perfMap,
  });
  onCleanup('psc services', () => psc.stop());

  // Idle: after start-up has settled, before any scenario touched the services.
  await sleep(3_000);
  const idle: Record<string, number> = {};
  for (const [instance, running] of psc.instances)
    idle[instance] = await rssMb(running.process.pid);

  const ctx: BenchContext = {
    args,
    report,
    env,
    db,
    psc,
    fake,
    management,
    memory: { idle },
    spawnBaseline: (script, extraEnv) => spawnBenchProcess(env, `baseline/${script}`, extraEnv),
    spawnPeer: (script, extraEnv) => spawnBenchProcess(env, `peers/${script}`, extraEnv),
  };

  for (const name of args.only) {
    const scenario = SCENARIO_RUNNERS[name];
    console.log(`\n— ${scenario.title}`);
    const began = Date.now();
    try {
      await scenario.run(ctx);
    } catch (err) {
      failed += 1;
      const message = err instanceof Error ? err.message : String(err);
      console.log(`${scenario.title}: failed — ${message.split('\n').slice(0, 8).join('\n  ')}`);
      report.notes.push(`${scenario.title} failed: ${message}`);
    }
    console.log(`  (${Math.round((Date.now() - began) / 1000)} s)`);
  }

  // A partial run (--only) gets its own file so it never replaces the day's full run.
  const suffix = `${args.quick ? '-quick' : ''}${args.only.length < SCENARIOS.length ? `-${args.only.join('-')}` : ''}`;
  const file = `${resultsDir}${startedAt.toISOString().slice(0, 10)}${suffix}.json`;
  await mkdir(resultsDir, { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify({ startedAt: startedAt.toISOString(), args, machine, ...report, memory: ctx.memory }, null, 2)}\n`,
  );
  console.log(`\nresults: ${file}`);
  if (report.skips.length > 0) {
    console.log(`skipped: ${report.skips.map((s) => s.scenario).join(', ')}`);
  }
} catch (err) {
  failed += 1;
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
} finally {
  await runCleanups();
}

// The profile is written when the sync-worker exits, i.e. after the clean-up above.
if (profileDir) await summariseProfiles(profileDir);
console.log(`done in ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s`);
process.exit(failed > 0 ? 1 : 0);
