import { QUEUES, QUEUE_SPECS, type QueueSpec, type QueueStats } from '@psc/contracts';
import {
  checkQueue,
  createManagementApi,
  ManagementApiError,
  managementPath,
  type Broker,
} from '@psc/messaging';

/** The shared queues of the topology table that have a consumer; the management API adds any others it finds. */
const KNOWN_QUEUES = Object.values(QUEUE_SPECS as Record<string, QueueSpec>)
  .filter((q) => q.consumer !== null && q.durable && !q.perReplica)
  .map((q) => q.name);

const isAuxiliary = (name: string): boolean =>
  name.endsWith('.dead-letter') ||
  // Delay queues (`.retry.` before psc.retry: an upgraded broker may still hold some).
  /\.(delay|retry)\.\d+(ms)?$/.test(name) ||
  name.endsWith('.rpc') ||
  /\.replies\.[^.]+$/.test(name) ||
  name.startsWith('amq.') ||
  name === QUEUES.unroutedEvents;

interface MgmtQueue {
  name: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  message_stats?: {
    publish_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
  };
}

export interface QueueInspector {
  list(): Promise<QueueStats[]>;
}

/** Queue depths from the RabbitMQ management API (rates and unacked included). */
export function managementInspector(options: {
  managementUrl: string;
  vhost: string;
  timeoutMs?: number;
}): QueueInspector {
  const api = createManagementApi(options.managementUrl, { timeoutMs: options.timeoutMs ?? 5_000 });
  return {
    async list() {
      const all = await api
        .get<MgmtQueue[]>(managementPath('queues', options.vhost))
        .catch((err: unknown) => {
          // The reason of the fallback's one warning: the status, and what to check on a 401.
          if (!(err instanceof ManagementApiError)) throw err;
          throw new Error(
            `RabbitMQ management API answered ${err.status}${err.status === 401 ? ' (check the login in RABBITMQ_MANAGEMENT_URL)' : ''}`,
          );
        });
      const byName = new Map(all.map((q) => [q.name, q]));
      const names = [
        ...new Set([...KNOWN_QUEUES, ...all.map((q) => q.name).filter((n) => !isAuxiliary(n))]),
      ];
      return names.map((name): QueueStats => {
        const q = byName.get(name);
        const dlq = byName.get(QUEUES.deadLetter(name));
        return {
          name,
          exists: q !== undefined,
          ready: q?.messages_ready ?? 0,
          unacked: q?.messages_unacknowledged ?? 0,
          consumers: q?.consumers ?? 0,
          publishRate: q?.message_stats?.publish_details?.rate ?? 0,
          deliverRate: q?.message_stats?.deliver_get_details?.rate ?? 0,
          deadLetter: dlq ? (dlq.messages_ready ?? 0) + (dlq.messages_unacknowledged ?? 0) : null,
        };
      });
    },
  };
}

/**
 * Passive declares on a throwaway channel of the gateway's connection: ready count and
 * consumers only. A missing queue closes the channel (404), so each check gets a fresh one.
 */
export function passiveInspector(broker: Broker): QueueInspector {
  const check = (name: string) => checkQueue(broker, name);
  return {
    async list() {
      return Promise.all(
        KNOWN_QUEUES.map(async (name): Promise<QueueStats> => {
          const [q, dlq] = await Promise.all([check(name), check(QUEUES.deadLetter(name))]);
          return {
            name,
            exists: q !== undefined,
            ready: q?.messageCount ?? 0,
            unacked: null,
            consumers: q?.consumerCount ?? 0,
            publishRate: null,
            deliverRate: null,
            deadLetter: dlq?.messageCount ?? null,
          };
        }),
      );
    },
  };
}

/**
 * The management API while it answers, else `fallback` (passive declares: ready counts and
 * consumers, no unacked counts or rates), so a management plugin that restarts, or a login it
 * refuses, costs the console and `/metrics` their detail, not the queue depths. Warns when it
 * starts failing (with the reason, never the URL, which holds a password) and says when it
 * answers again, once each.
 */
export function withFallback(
  primary: QueueInspector,
  fallback: QueueInspector,
  logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
): QueueInspector {
  let failing = false;
  return {
    async list() {
      try {
        const stats = await primary.list();
        if (failing) logger.info({}, 'management API answers again: queue depths from it');
        failing = false;
        return stats;
      } catch (err) {
        if (!failing) {
          logger.warn(
            { reason: err instanceof Error ? err.message : String(err) },
            'management API unavailable: queue depths from passive declares (no unacked counts or rates) until it answers',
          );
        }
        failing = true;
        return fallback.list();
      }
    },
  };
}
