import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the receiver answered. */
  status: number;
}

/**
 * A webhook receiver on loopback, as a user would run one: it records every POST and answers
 * with what `answer` says for its path (204 by default).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const answers = new Map<string, (count: number) => number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const count = received.filter((r) => r.path === path).length + 1;
      const status = answers.get(path)?.(count) ?? 204;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString(), status });
      // 0: never answer (the connection stays open until the receiver stops).
      if (status === 0) return;
      // A redirect points at another path of this receiver, so following it would show.
      const location = status >= 300 && status < 400 ? { location: `${path}/redirected` } : {};
      res
        .writeHead(status, { 'content-type': 'text/plain', ...location })
        .end(status < 300 ? '' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /**
     * How the receiver answers the `count`-th POST to `path` (1 for the first): a status, 0 for
     * no answer at all; a 3xx redirects to `<path>/redirected`.
     */
    answer(path: string, status: (count: number) => number): void {
      answers.set(path, status);
    },
    at: (path: string) => received.filter((r) => r.path === path),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
