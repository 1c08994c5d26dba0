/**
 * Minimal client for the RabbitMQ management HTTP API. fetch refuses URLs that carry
 * credentials, so the user:password part of the management URL becomes a Basic auth header.
 */
export interface ManagementApi {
  /** Sends a request and returns the status and parsed JSON body (undefined when empty). */
  request(method: string, path: string, body?: unknown): Promise<ManagementReply>;
  /** Same as `request` but throws on any status outside `okStatuses`. */
  call(method: string, path: string, body?: unknown, okStatuses?: number[]): Promise<unknown>;
}

interface ManagementReply {
  status: number;
  body: unknown;
}

export function managementApi(managementUrl: string, timeoutMs = 10_000): ManagementApi {
  const url = new URL(managementUrl);
  const user = decodeURIComponent(url.username) || 'guest';
  const password = decodeURIComponent(url.password) || 'guest';
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;

  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Always read the body so undici can reuse or release the socket.
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed };
  };

  return {
    request,
    async call(method, path, body, okStatuses = [200, 201, 204]) {
      const reply = await request(method, path, body);
      if (!okStatuses.includes(reply.status)) {
        throw new Error(
          `RabbitMQ management ${method} ${path} at ${url.host} answered ${reply.status}: ` +
            JSON.stringify(reply.body ?? '').slice(0, 300),
        );
      }
      return reply.body;
    },
  };
}
