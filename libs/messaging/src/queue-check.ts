import type { Broker } from './broker.ts';
import type { ProbeChannel } from './topology.ts';

/**
 * A throwaway channel of the broker's connection, for passive declares: the broker closes a
 * channel whose passive declare misses, so these never run on a channel that matters. Throws
 * while the broker is not connected.
 */
export async function throwawayChannel(broker: Broker): Promise<ProbeChannel> {
  const connection = broker.connection.connection as unknown as
    { createChannel(): Promise<ProbeChannel> } | undefined;
  if (!connection) throw new Error('RabbitMQ not connected');
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return channel;
}

/**
 * A passive declare of `name` on a throwaway channel: its ready count and live consumers, or
 * undefined when the queue does not exist. Throws while the broker is not connected.
 */
export async function checkQueue(
  broker: Broker,
  name: string,
): Promise<{ messageCount: number; consumerCount: number } | undefined> {
  const channel = await throwawayChannel(broker);
  try {
    return (await channel.checkQueue(name)) as { messageCount: number; consumerCount: number };
  } catch {
    return undefined;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
