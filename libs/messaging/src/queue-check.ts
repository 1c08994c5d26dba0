import type { Broker } from './broker.ts';

/** The slice of an amqplib channel a passive check needs. */
interface PassiveChannel {
  on(event: 'error', listener: () => void): unknown;
  checkQueue(name: string): Promise<{ messageCount: number; consumerCount: number }>;
  close(): Promise<void>;
}

/**
 * A passive declare of `name` on a throwaway channel of the broker's connection: its ready count
 * and live consumers, or undefined when the queue does not exist (which closes that channel, so
 * each check gets a fresh one). Throws while the broker is not connected.
 */
export async function checkQueue(
  broker: Broker,
  name: string,
): Promise<{ messageCount: number; consumerCount: number } | undefined> {
  const connection = broker.connection.connection as unknown as
    { createChannel(): Promise<PassiveChannel> } | undefined;
  if (!connection) throw new Error('RabbitMQ not connected');
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    return await channel.checkQueue(name);
  } catch {
    return undefined;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
