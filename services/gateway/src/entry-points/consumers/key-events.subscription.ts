import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { QUEUE_SPECS, apiKeyRevoked } from '@psc/contracts';
import {
  assertTopology,
  queueName,
  queueTopology,
  throwawayChannel,
  type Broker,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { KeyDirectory } from '../../domain/key-directory.ts';

export interface KeyEventsSubscription {
  /** Opens the channel; the first subscription happens whenever the broker is reachable. */
  start(): void;
  stop(): Promise<void>;
}

const RELOAD_RETRY_MS = 1_000;

/**
 * This replica's `api-key.revoked` feed. The queue is its own (the shared name plus the replica
 * id), so every replica hears every revocation, and auto-deletes with it.
 *
 * A channel of its own rather than `createConsumer`, because the order matters: on every
 * (re)connect the queue is bound and consumed *before* the key directory reloads, so a key
 * revoked at any moment is either absent from the reload or arrives as an event afterwards.
 * While disconnected the directory asks PostgreSQL on every request. A message that is not a
 * valid `api-key.revoked` is rejected into `gateway.api-key-events.dead-letter` and logged.
 */
export function createKeyEventsSubscription(deps: {
  broker: Broker;
  directory: KeyDirectory;
  replicaId: string;
  logger: Logger;
}): KeyEventsSubscription {
  const log = deps.logger.child({ component: 'key-events' });
  const spec = QUEUE_SPECS.gatewayKeyEvents;
  const queue = queueName(spec, deps.replicaId);
  const topology = queueTopology(spec, { replicaId: deps.replicaId });
  let stopping = false;
  let wrapper: ReturnType<Broker['createChannel']> | undefined;
  let retry: NodeJS.Timeout | undefined;

  const onDisconnect = (): void => deps.directory.unsubscribed();

  function onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (!msg) {
      // The broker cancelled the consumer (queue deleted): events may be lost until setup re-runs.
      // Closing the channel makes the broker wrapper reopen it (after 1 s) and run the setup,
      // which declares the queue anew, consumes and reloads.
      deps.directory.unsubscribed();
      if (!stopping) ch.close().catch(() => undefined);
      return;
    }
    let payload: { keyId: string } | undefined;
    try {
      const parsed = apiKeyRevoked.envelope.safeParse(JSON.parse(msg.content.toString('utf8')));
      if (parsed.success) payload = parsed.data.payload;
    } catch {
      // not JSON: poison, below
    }
    if (!payload) {
      log.warn({ messageId: msg.properties.messageId }, 'invalid key event dead-lettered');
      ch.nack(msg, false, false);
      return;
    }
    deps.directory.revoke(payload.keyId);
    ch.ack(msg);
  }

  /** Reloads until it succeeds or a newer (re)subscription takes over. */
  function reload(): void {
    clearTimeout(retry);
    deps.directory.subscribed().catch((err: unknown) => {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot load API keys; checking each request against PostgreSQL meanwhile',
      );
      if (!stopping) retry = setTimeout(reload, RELOAD_RETRY_MS);
    });
  }

  return {
    start() {
      deps.broker.connection.on('disconnect', onDisconnect);
      wrapper = deps.broker.createChannel('gateway.key-events', async (ch) => {
        deps.directory.unsubscribed();
        // Whatever closes this channel, events stop until the setup has run again.
        ch.on('close', () => deps.directory.unsubscribed());
        try {
          await assertTopology(ch, topology, () => throwawayChannel(deps.broker));
          await ch.prefetch(spec.prefetch.default);
          if (stopping) return;
          await ch.consume(queue, (msg) => onMessage(ch, msg));
        } catch (err) {
          // Stopped while connecting: the channel closed under the setup; nothing to report.
          if (stopping) return;
          throw err;
        }
        reload();
      });
    },
    async stop() {
      stopping = true;
      clearTimeout(retry);
      deps.broker.connection.off('disconnect', onDisconnect);
      deps.directory.unsubscribed();
      await wrapper?.close();
    },
  };
}
