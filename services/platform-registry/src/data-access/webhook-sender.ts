import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import fetch from 'node-fetch';
import { Webhook } from 'standardwebhooks';
import type { EgressGuard } from '@psc/egress';
import type { AttemptResult } from '../domain/webhook-retry.ts';
import type { Connect } from './platform-probe.ts';

/** What psc reads of a receiver's answer at most: only the status matters. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookSend {
  /** The `webhook-id`: the same on every attempt of one delivery. */
  id: string;
  url: string;
  secret: string;
  body: string;
}

/**
 * Sends one signed attempt (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) through the egress guard: the URL is checked again before every attempt
 * and at connect time, redirects are not followed, the answer is bounded in time and size.
 * Never throws; errors name the host at most, never the URL (its query may hold a token).
 */
export function createWebhookSender(options: {
  egress: EgressGuard;
  timeoutMs: number;
  now: () => Date;
  connect?: Connect;
}) {
  const httpAgent = new HttpAgent({ lookup: options.egress.lookup });
  const httpsAgent = new HttpsAgent({ lookup: options.egress.lookup });
  if (options.connect) {
    const connect = options.connect;
    httpAgent.createConnection = (opts) => connect(opts);
    httpsAgent.createConnection = (opts) => connect(opts);
  }

  return {
    async send(delivery: WebhookSend): Promise<AttemptResult> {
      const started = performance.now();
      const latencyMs = () => Math.round((performance.now() - started) * 10) / 10;
      const host = hostOf(delivery.url);
      try {
        await options.egress.checkUrl(delivery.url);
      } catch (err) {
        return { statusCode: null, latencyMs: latencyMs(), error: (err as Error).message };
      }
      const timestamp = options.now();
      const signature = new Webhook(delivery.secret).sign(delivery.id, timestamp, delivery.body);
      try {
        const response = await fetch(delivery.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'psc-webhooks',
            'webhook-id': delivery.id,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body: delivery.body,
          redirect: 'manual',
          agent: (u: URL) => (u.protocol === 'https:' ? httpsAgent : httpAgent),
          signal: AbortSignal.timeout(options.timeoutMs),
          size: MAX_RESPONSE_BYTES,
        });
        // Read (bounded) so the connection can be reused; the content does not matter.
        await response.arrayBuffer().catch(() => undefined);
        const status = response.status;
        const error =
          status >= 300 && status < 400
            ? `${host} answered ${status} with a redirect; psc does not follow redirects`
            : status >= 200 && status < 300
              ? null
              : `${host} answered ${status}`;
        return { statusCode: status, latencyMs: latencyMs(), error };
      } catch (err) {
        return { statusCode: null, latencyMs: latencyMs(), error: describe(err, host, options) };
      }
    },
    close(): void {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the receiver';
  }
}

function describe(err: unknown, host: string, options: { timeoutMs: number }): string {
  const e = err as { name?: string; code?: string };
  if (e.code === 'egress_denied') return `egress denied: ${host} resolves to a blocked address`;
  if (e.name === 'AbortError' || e.name === 'TimeoutError') {
    return `${host} did not answer within ${options.timeoutMs} ms`;
  }
  // node-fetch's own message quotes the URL: only the code goes out.
  return `cannot reach ${host}${e.code ? ` (${e.code})` : ''}`;
}
