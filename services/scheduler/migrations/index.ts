import type { Knex } from 'knex';
import { SERVICE_SCHEMAS } from '@psc/contracts';
import * as createJobs from './20261122000000_create_jobs.ts';
import * as createSchedules from './20261123000000_create_schedules.ts';
import * as jobEmitter from './20261124000000_job_emitter.ts';
import * as jobRuns from './20261125000000_job_runs.ts';
import * as runsAndDeadLetters from './20261203000000_runs_and_dead_letters.ts';
import * as backfills from './20261203010000_backfills.ts';
import * as jobsPlatformIndex from './20261205000000_jobs_platform_index.ts';
import * as collectStops from './20261206000000_collect_stops.ts';
import * as planChanges from './20261207000000_plan_changes.ts';
import * as platformRevision from './20261208000000_platform_revision.ts';
import * as schedulesTaskTypeIndex from './20261209000000_schedules_task_type_index.ts';

export const SCHEMA = SERVICE_SCHEMAS['scheduler'];

export const migrations: Record<string, Knex.Migration> = {
  '20261122000000_create_jobs.ts': createJobs,
  '20261123000000_create_schedules.ts': createSchedules,
  '20261124000000_job_emitter.ts': jobEmitter,
  '20261125000000_job_runs.ts': jobRuns,
  '20261203000000_runs_and_dead_letters.ts': runsAndDeadLetters,
  '20261203010000_backfills.ts': backfills,
  '20261205000000_jobs_platform_index.ts': jobsPlatformIndex,
  '20261206000000_collect_stops.ts': collectStops,
  '20261207000000_plan_changes.ts': planChanges,
  '20261208000000_platform_revision.ts': platformRevision,
  '20261209000000_schedules_task_type_index.ts': schedulesTaskTypeIndex,
};
