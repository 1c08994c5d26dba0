import { createServer } from 'node:net';

/**
 * Asks the OS for a free TCP port on 127.0.0.1 by listening on port 0 and closing again.
 * Prefer handing port 0 straight to the server under test; use this only when a port must be
 * known before the process that will listen on it starts (e.g. a spawned service's env).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close((err) => {
        if (err) reject(err);
        else if (port === undefined) reject(new Error('freePort: server has no TCP address'));
        else resolve(port);
      });
    });
  });
}
