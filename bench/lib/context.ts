import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { ManagementApi } from '@psc/messaging';
import {
  spawnService,
  type FakePlatform,
  type IsolatedEnv,
  type ServiceProcess,
} from '@psc/testing';
import type { BenchArgs } from './args.ts';
import { onCleanup } from './cleanup.ts';
import type { Psc } from './psc.ts';
import type { Report } from './report.ts';

interface MemoryFigures {
  /** RSS in MB of each psc service right after start-up, and of the bare processes. */
  idle: Record<string, number>;
  baselineWorkerIdle?: number;
  baselineHttpIdle?: number;
  /** Sync-worker (psc) and bare worker during and at the end of scenario 1. */
  pipeline?: { pscPeak: number; pscEnd: number; baselinePeak: number; baselineEnd: number };
  /** The higher of the two collectors' (psc) and bare consumers' peaks during scenario 5. */
  fanout?: { pscPeak: number; baselinePeak: number };
}

export interface BenchContext {
  args: BenchArgs;
  report: Report;
  env: IsolatedEnv;
  /** Pool on the run's isolated database: reads psc's ledger, holds the baselines' tables. */
  db: pg.Pool;
  psc: Psc;
  fake: FakePlatform;
  /** RabbitMQ's management API, for the broker's own counters. */
  management: ManagementApi;
  memory: MemoryFigures;
  /** Starts a baseline script from bench/baseline as a bare Node process (no tracing). */
  spawnBaseline(script: string, env: Record<string, string>): Promise<ServiceProcess>;
  /** Starts a worker on a peer job queue from bench/peers, the same way. */
  spawnPeer(script: string, env: Record<string, string>): Promise<ServiceProcess>;
}

/**
 * Starts `bench/<script>.ts` (e.g. `baseline/pipeline-worker`) as a bare Node process on the
 * run's vhost and database, and waits for it to print `ready`.
 */
export async function spawnBenchProcess(
  env: IsolatedEnv,
  script: string,
  extraEnv: Record<string, string>,
): Promise<ServiceProcess> {
  const child = spawnService({
    name: script,
    entry: fileURLToPath(new URL(`../${script}.ts`, import.meta.url)),
    nodeArgs: [],
    env: { AMQP_URL: env.amqpUrl, DATABASE_URL: env.databaseUrl, ...extraEnv },
    stopTimeoutMs: 5_000,
  });
  onCleanup(script, () => child.stop());
  await child.waitForLine(/ready/, 30_000);
  return child;
}
