import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { coalesceWrites } from '../src/write-coalescing.ts';

describe('coalesceWrites', () => {
  const server = createServer();
  let client: Socket;
  const reads: Buffer[] = [];
  const handed: string[] = [];
  const received = () => Buffer.concat(reads).toString('utf8');

  before(async () => {
    server.on('connection', (peer: Socket) =>
      peer.on('data', (chunk: Buffer) => reads.push(chunk)),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.setNoDelay(true);
    await once(client, 'connect');
    coalesceWrites(client);
    // Each call of these is one write system call on the socket's handle.
    for (const method of ['_write', '_writev'] as const) {
      const original = (client[method] as (...args: unknown[]) => void).bind(client);
      Object.assign(client, {
        [method]: (...args: unknown[]) => {
          handed.push(method);
          original(...args);
        },
      });
    }
  });
  after(async () => {
    client?.destroy();
    server.close();
    await once(server, 'close');
  });

  it('when frames are written in one turn, then they leave together, in order, and later turns still flush', async () => {
    for (const frame of ['method;', 'header;', 'body;', 'ack;']) client.write(frame);
    await waitFor(() => received() === 'method;header;body;ack;', { message: 'first turn' });
    // One system call for the turn, not one for the first frame and another for the rest.
    assert.deepEqual(handed, ['_writev']);

    await new Promise((resolve) => setImmediate(resolve));
    client.write('next-turn;');
    await waitFor(() => received().endsWith('next-turn;'), { message: 'a later turn' });
    assert.equal(received(), 'method;header;body;ack;next-turn;');
    assert.equal(handed.length, 2);
  });
});
