import type {
  breakerStateChanged,
  jobDeadLettered,
  scheduleAutoPaused,
  validationDriftDetected,
  WebhookEventType,
} from '@psc/contracts';
import type { MessageOf } from '@psc/messaging';

export type WebhookSourceEvent = MessageOf<
  | typeof jobDeadLettered
  | typeof validationDriftDetected
  | typeof breakerStateChanged
  | typeof scheduleAutoPaused
>;

/** One thing to tell subscribers: the body's `type` and `data`, and when it happened. */
export interface Notification {
  type: WebhookEventType;
  occurredAt: string;
  data: Record<string, unknown>;
}

/**
 * What a domain event tells webhook subscribers, if anything: a breaker closing or a drift
 * report without drift is nobody's alarm.
 */
export function notificationOf(event: WebhookSourceEvent): Notification | undefined {
  const occurredAt = event.occurredAt;
  switch (event.type) {
    case 'job.dead-lettered': {
      const { status, ...data } = event.payload;
      return { type: status === 'dead' ? 'job.dead' : 'job.failed', occurredAt, data };
    }
    case 'validation.drift_detected':
      return { type: 'validation.drift_detected', occurredAt, data: { ...event.payload } };
    case 'breaker.state-changed': {
      if (event.payload.state !== 'open') return undefined;
      const { state: _state, ...data } = event.payload;
      return { type: 'breaker.opened', occurredAt, data };
    }
    case 'schedule.auto-paused':
      return { type: 'schedule.auto_paused', occurredAt, data: { ...event.payload } };
  }
}

/** The delivery body of the Standard Webhooks spec: `{type, timestamp, data}`. */
export function webhookBody(n: { type: string; occurredAt: string; data: unknown }): string {
  return JSON.stringify({ type: n.type, timestamp: n.occurredAt, data: n.data });
}
