import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createEgressGuard } from '@psc/egress';
import { createWebhookSender } from '../src/data-access/webhook-sender.ts';

const SECRET_PATH = '/hooks/k3y-in-path';
const TOKEN = 'tok-in-query-9f2c';
const signing = `whsec_${Buffer.alloc(24, 5).toString('base64')}`;

describe('webhook attempts: what an error says of the receiver', () => {
  let server: Server;
  let host: string;
  let closedHost: string;

  before(async () => {
    // Each path answers one way; /stall never answers.
    server = createServer((req, res) => {
      if (req.url?.startsWith('/fail')) res.writeHead(500).end();
      else if (req.url?.startsWith('/moved'))
        res.writeHead(302, { location: `http://example.com${SECRET_PATH}` }).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    closedHost = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    closed.close();
    await once(closed, 'close');
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('when a receiver answers 500, redirects, never answers, cannot be reached or is not allowed, then each error names its host and never the URL’s path or query', async () => {
    const allowed = createWebhookSender({
      egress: createEgressGuard({ allow: ['127.0.0.1'] }),
      timeoutMs: 300,
      now: () => new Date(),
    });
    const refused = createWebhookSender({
      egress: createEgressGuard({ allow: [] }),
      timeoutMs: 300,
      now: () => new Date(),
    });
    try {
      const cases = [
        [allowed, host, '/fail', /answered 500/],
        [allowed, host, '/moved', /answered 302 with a redirect/],
        [allowed, host, '/stall', /did not answer within 300 ms/],
        [allowed, closedHost, '/fail', /cannot reach .*ECONNREFUSED/],
        [refused, host, '/fail', /egress denied/],
      ] as const;
      for (const [sender, to, path, expected] of cases) {
        const url = `http://${to}${path}${SECRET_PATH}?token=${TOKEN}`;
        const result = await sender.send({ id: 'msg_1', url, secret: signing, body: '{}' });
        const error = result.error ?? '';
        assert.match(error, expected, url);
        assert.ok(error.includes(to.split(':')[0]!), `${error}: names the host`);
        for (const hidden of [SECRET_PATH, TOKEN, path])
          assert.ok(!error.includes(hidden), `${error}: holds ${hidden}`);
      }
    } finally {
      allowed.close();
      refused.close();
    }
  });
});
