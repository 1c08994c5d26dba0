import { randomUUID } from 'node:crypto';
import { waitFor } from '@psc/testing';
import { managementPath } from '@psc/messaging';
import { management } from './event-capture.ts';

/**
 * Calls an RPC the way any client holding broker credentials could (a message to `psc.calls` with
 * a reply queue of its own, here through the management API) and returns the reply exactly as
 * the broker delivered it: bytes, not anything psc's own client parsed.
 */
export async function rawRpc(
  vhost: string,
  service: string,
  type: string,
  request: unknown,
): Promise<Buffer> {
  const replies = `test.raw-rpc.${randomUUID()}`;
  const repliesPath = managementPath('queues', vhost, replies);
  await management.put(repliesPath, {
    durable: false,
    auto_delete: false,
  });
  // Replies come back through psc.replies by the reply queue's name.
  await management.post(managementPath('bindings', vhost, 'e', 'psc.replies', 'q', replies), {
    routing_key: replies,
  });
  try {
    const published = await management.post<{ routed: boolean }>(
      managementPath('exchanges', vhost, 'psc.calls', 'publish'),
      {
        routing_key: `${service}.${type}`,
        payload: JSON.stringify(request),
        payload_encoding: 'string',
        properties: {
          type,
          reply_to: replies,
          correlation_id: randomUUID(),
          content_type: 'application/json',
        },
      },
    );
    if (!published.routed) throw new Error(`no ${service} RPC queue in ${vhost}`);
    const [reply] = await waitFor(
      async () => {
        const got = await management.post<{ payload: string }[]>(`${repliesPath}/get`, {
          count: 1,
          ackmode: 'ack_requeue_false',
          encoding: 'base64',
          truncate: 10_000_000,
        });
        return got.length > 0 ? got : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, message: `${type} reply` },
    );
    return Buffer.from(reply!.payload, 'base64');
  } finally {
    await management.delete(repliesPath);
  }
}
