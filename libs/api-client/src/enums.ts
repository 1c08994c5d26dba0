import type { components } from './schema.ts';

type JobSchema = components['schemas']['Job'];
export type JobStatus = JobSchema['status'];
export type TaskType = JobSchema['taskType'];

/**
 * A tuple that holds every member of the union `U` and nothing else: a value the document
 * gains or loses fails the type check here, not in a filter menu that silently lacks it.
 */
type Exactly<U, T extends readonly U[]> = [Exclude<U, T[number]>] extends [never] ? T : never;
const exactly =
  <U>() =>
  <const T extends readonly U[]>(values: Exactly<U, T>): T =>
    values;

/** Every job status of the API, in the order a job may pass through them. */
export const JOB_STATUSES = exactly<JobStatus>()([
  'queued',
  'running',
  'retrying',
  'waiting',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
]);

/** Every task type of the API. */
export const TASK_TYPES = exactly<TaskType>()(['sync', 'validate', 'collect']);

export type LogLevel = components['schemas']['LogList']['items'][number]['level'];

/** Every log level of the API, least severe first (a filter takes that level and above). */
export const LOG_LEVELS = exactly<LogLevel>()(['debug', 'info', 'warn', 'error', 'fatal']);

export type WebhookEvent = components['schemas']['WebhookRequest']['events'][number];

/** Every event a webhook subscription may take. */
export const WEBHOOK_EVENTS = exactly<WebhookEvent>()([
  'job.dead',
  'job.failed',
  'validation.drift_detected',
  'breaker.opened',
  'schedule.auto_paused',
]);
