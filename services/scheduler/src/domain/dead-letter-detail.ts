import {
  HEADERS,
  jobRun,
  type DeadLetter,
  type DeadLetterDetail,
  type DeadMessage,
  type Job,
} from '@psc/contracts';
import { jobRunPayload } from './job-messages.ts';
import { redactSecrets, redactText } from './redact-secrets.ts';

/** How much of a poison message's body the dead-letter queue keeps. */
export const POISON_BODY_PREFIX = 2_000;

/** What the dead-letter queue keeps of a message nobody could read. */
export interface StoredMessage {
  type: string | null;
  messageId: string | null;
  headers: Record<string, unknown>;
  /** The first {@link POISON_BODY_PREFIX} characters of the body. */
  body: string;
  /** Absent in letters stored before it was recorded. */
  truncated?: boolean;
}

function poisonMessage(stored: StoredMessage): DeadMessage {
  let payload: unknown = stored.body;
  try {
    payload = JSON.parse(stored.body);
  } catch {
    // Not JSON, or JSON cut at the prefix: shown as the text it is.
  }
  return {
    type: stored.type,
    messageId: stored.messageId,
    headers: stored.headers,
    payload,
    truncated: stored.truncated ?? stored.body.length >= POISON_BODY_PREFIX,
  };
}

/**
 * A dead job's message is the ledger's own: the `job.run` of the run that died (its id and time
 * are made afresh at each send, so they are left out), with the headers a parked copy carries.
 */
function jobMessage(letter: DeadLetter, job: Job): DeadMessage {
  return {
    type: jobRun.type,
    messageId: null,
    headers: {
      [HEADERS.deadReason]: letter.reason,
      [HEADERS.deadQueue]: letter.queue,
      [HEADERS.deadAt]: letter.deadAt,
      [HEADERS.attempt]: letter.attempts,
    },
    payload: {
      type: jobRun.type,
      version: jobRun.version,
      correlationId: job.id,
      payload: jobRunPayload(job),
    },
    truncated: false,
  };
}

/**
 * A dead letter as anyone with a viewer key may see it: every secret of the message (params,
 * headers, a poison body) and of the reason replaced by `[redacted]`.
 */
export function deadLetterDetail(
  letter: DeadLetter,
  stored: StoredMessage | null,
  job: Job | undefined,
): DeadLetterDetail {
  const message = stored ? poisonMessage(stored) : job ? jobMessage(letter, job) : null;
  const error = job?.error ?? null;
  return {
    ...letter,
    reason: redactText(letter.reason),
    error: error ? { class: error.class, message: redactText(error.message) } : null,
    message: message ? (redactSecrets(message) as DeadMessage) : null,
  };
}
