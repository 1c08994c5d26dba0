/**
 * A status outside 2xx from RabbitMQ's management API. Not an AppError: its status is the
 * broker's answer to us, not one for an HTTP edge to pass on to its own caller. The message
 * names the method, path and status only: never the URL (it holds a password), nor the body
 * (the broker may quote the request, which can hold one too).
 */
export class ManagementApiError extends Error {
  override name = 'ManagementApiError';
  readonly method: string;
  readonly path: string;
  readonly status: number;

  constructor(method: string, path: string, status: number) {
    super(`RabbitMQ management ${method} ${path} answered ${status}`);
    this.method = method;
    this.path = path;
    this.status = status;
  }
}

/** RabbitMQ's management HTTP API, JSON in and out; any status outside 2xx throws a {@link ManagementApiError}. */
export interface ManagementApi {
  /** The parsed JSON body (undefined when empty). */
  get<T = unknown>(path: string): Promise<T>;
  put(path: string, body: unknown): Promise<void>;
  post<T = unknown>(path: string, body: unknown): Promise<T>;
  /** With `missingOk`, a 404 is no error: what was to go is gone either way. */
  delete(path: string, options?: { missingOk?: boolean }): Promise<void>;
}

/** `/api/` and the segments, each encoded: vhost `/` is `%2F`, and names may hold any character. */
export function managementPath(...segments: readonly string[]): string {
  return `/api/${segments.map(encodeURIComponent).join('/')}`;
}

/**
 * A client for the management API at `managementUrl` (http://user:password@host:port, maybe with
 * a path prefix). fetch refuses URLs with credentials, so they become a Basic auth header, RabbitMQ's
 * guest:guest when the URL has none (as amqplib does for an AMQP URL). Each request is aborted
 * after `timeoutMs` (default 10 s): a management plugin that hangs must not hang its caller.
 */
export function createManagementApi(
  managementUrl: string,
  options: { timeoutMs?: number } = {},
): ManagementApi {
  const url = new URL(managementUrl);
  const login = `${decodeURIComponent(url.username) || 'guest'}:${decodeURIComponent(url.password) || 'guest'}`;
  const authorization = `Basic ${Buffer.from(login).toString('base64')}`;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const request = async (method: string, path: string, body?: unknown, missingOk = false) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // fetch says only "fetch failed"; why is in its cause. The origin holds no password.
      throw new Error(
        `RabbitMQ management API at ${url.origin} did not answer ${method} ${path}: ${unreachableReason(err, timeoutMs)}`,
        { cause: err },
      );
    }
    // Read every body, an error's too, so undici can reuse or release the socket.
    const text = await res.text();
    if (missingOk && res.status === 404) return undefined;
    if (!res.ok) throw new ManagementApiError(method, path, res.status);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };

  return {
    get: async <T>(path: string) => (await request('GET', path)) as T,
    put: async (path, body) => {
      await request('PUT', path, body);
    },
    post: async <T>(path: string, body: unknown) => (await request('POST', path, body)) as T,
    delete: async (path, deleteOptions) => {
      await request('DELETE', path, undefined, deleteOptions?.missingOk);
    },
  };
}

/** Why a request got no answer: a timeout, or the network error fetch keeps as its cause. */
function unreachableReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError')
    return `no answer within ${timeoutMs} ms`;
  const cause =
    err instanceof Error
      ? (err.cause as { code?: unknown; message?: unknown } | undefined)
      : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
