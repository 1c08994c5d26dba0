import pg from 'pg';

const MANAGEMENT_URL = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** One call to the RabbitMQ management API; throws on a status outside 2xx. */
export async function management(method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(MANAGEMENT_URL);
  const auth = Buffer.from(
    `${decodeURIComponent(url.username) || 'guest'}:${decodeURIComponent(url.password) || 'guest'}`,
  ).toString('base64');
  const res = await fetch(`${url.origin}${path}`, {
    method,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`management ${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export interface EventCapture {
  /** Takes every captured event out of the queue (management API get, so nothing lags). */
  drain(): Promise<{ type: string; payload: Record<string, unknown> }[]>;
}

/** A queue in the test's vhost bound to `psc.events` with `routingKey`, to count events. */
export async function captureEvents(vhost: string, routingKey: string): Promise<EventCapture> {
  const v = encodeURIComponent(vhost);
  const queue = `test.capture.${routingKey}`;
  await management('PUT', `/api/queues/${v}/${encodeURIComponent(queue)}`, {
    durable: false,
    auto_delete: false,
  });
  await management('POST', `/api/bindings/${v}/e/psc.events/q/${encodeURIComponent(queue)}`, {
    routing_key: routingKey,
  });
  return {
    async drain() {
      const got = (await management('POST', `/api/queues/${v}/${encodeURIComponent(queue)}/get`, {
        count: 10_000,
        ackmode: 'ack_requeue_false',
        encoding: 'auto',
      })) as { payload: string }[];
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
  const v = encodeURIComponent(vhost);
  const answer = (await management('POST', `/api/exchanges/${v}/${exchange}/publish`, {
    properties: { message_id: properties.messageId, headers: properties.headers },
    routing_key: routingKey,
    payload: body,
    payload_encoding: 'string',
  })) as { routed: boolean };
  if (!answer.routed) throw new Error(`${exchange} routed nothing for ${routingKey}`);
}
