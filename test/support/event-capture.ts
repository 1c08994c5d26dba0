import pg from 'pg';
import { createManagementApi, managementPath } from '@psc/messaging';

/** The shared broker's management API. */
export const management = createManagementApi(
  process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
);

export interface EventCapture {
  /** Takes every captured event out of the queue (management API get, so nothing lags). */
  drain(): Promise<{ type: string; payload: Record<string, unknown> }[]>;
}

/** A queue in the test's vhost bound to `psc.events` with `routingKey`, to count events. */
export async function captureEvents(vhost: string, routingKey: string): Promise<EventCapture> {
  const queue = `test.capture.${routingKey}`;
  await management.put(managementPath('queues', vhost, queue), {
    durable: false,
    auto_delete: false,
  });
  await management.post(managementPath('bindings', vhost, 'e', 'psc.events', 'q', queue), {
    routing_key: routingKey,
  });
  return {
    async drain() {
      const got = await management.post<{ payload: string }[]>(
        managementPath('queues', vhost, queue, 'get'),
        { count: 10_000, ackmode: 'ack_requeue_false', encoding: 'auto' },
      );
      return got.map(
        (m) => JSON.parse(m.payload) as { type: string; payload: Record<string, unknown> },
      );
    },
  };
}

/** Rows in a service's outbox: 0 means everything it emitted has been published. */
export async function outboxDepth(databaseUrl: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from ${schema}.outbox`,
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/**
 * Publishes `body` as it is, with `headers`, to `exchange` in the test's vhost (management API):
 * what a foreign or broken producer would send, bypassing every contract check of ours.
 */
export async function publishRaw(
  vhost: string,
  exchange: string,
  routingKey: string,
  body: string,
  properties: { messageId: string; headers: Record<string, string> },
): Promise<void> {
  const answer = await management.post<{ routed: boolean }>(
    managementPath('exchanges', vhost, exchange, 'publish'),
    {
      properties: { message_id: properties.messageId, headers: properties.headers },
      routing_key: routingKey,
      payload: body,
      payload_encoding: 'string',
    },
  );
  if (!answer.routed) throw new Error(`${exchange} routed nothing for ${routingKey}`);
}
