export {
  createJobRunner,
  CancelledError,
  runKey,
  type JobHandler,
  type JobOutcome,
  type JobRunner,
  type JobRunnerOptions,
  type RunContext,
  type StatementEffects,
} from './runner.ts';
export {
  createCrashTable,
  createJobRunnerTables,
  createJobRunRepository,
  RUNNER_AGES,
  runnerRetention,
  type JobRunRepository,
  type RunRecord,
} from './job-runs.ts';
export { cleanText, jobErrorOf, jobEvents, type RunRef } from './job-events.ts';
export { createCancellationsConsumer } from './cancellations.ts';
export { type PlatformCache } from './platform-cache.ts';
export { createWorkerPlatforms } from './platform-events.ts';
export {
  concurrencyEnv,
  jobSlots,
  type JobSlots,
  prefetchEnv,
  workerEnv,
  workerSettings,
} from './worker-config.ts';
