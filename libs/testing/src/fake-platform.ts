import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  applyFault,
  createFaultBook,
  type FakeFault,
  type FaultScope,
} from './fake-platform-faults.ts';
import { paginate, type CollectionOptions, type Item } from './fake-platform-paging.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Query parameters; for a repeated key the last value wins. */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, the raw text for other content types, undefined when empty. */
  body: unknown;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface FakeReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakePlatformOptions {
  /** Port to listen on. Default 0 (any free port); tests should keep the default. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1; a demo in a container may need 0.0.0.0. */
  host?: string;
  /** Collections to serve from the start, by path. */
  collections?: Record<string, Item[]>;
  /** Answer 401 unless each of these headers has exactly this value, e.g. an API key. */
  requireHeaders?: Record<string, string>;
}

export interface FakePlatform {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  /** Every request received, oldest first, faulted ones included. Live: re-read it. */
  readonly requests: readonly RecordedRequest[];
  /** Serves `items` (copied) as a JSON collection at `path`; replaces any previous one. */
  setCollection(path: string, items: readonly Item[], options?: CollectionOptions): void;
  addItem(path: string, item: Item): void;
  /** Shallow-merges `patch` into matching items; returns how many matched. */
  updateItem(
    path: string,
    predicate: (item: Item) => boolean,
    patch: Item | ((item: Item) => Item),
  ): number;
  /** Removes matching items; returns how many were removed. */
  removeItem(path: string, predicate: (item: Item) => boolean): number;
  /** A copy of the collection's current items. */
  getCollection(path: string): Item[];
  /** Answers `method path` with `handler`; takes precedence over collections. */
  route(method: string, path: string, handler: RouteHandler): void;
  /** Delays every matching response by `ms` (0 removes it). */
  setLatency(ms: number, scope?: FaultScope): void;
  /** The next `count` matching requests get `fault`, then behaviour returns to normal. */
  failNext(count: number, fault: FakeFault, scope?: FaultScope): void;
  /** Every matching request gets `fault` until `setFault(null, sameScope)`. */
  setFault(fault: FakeFault | null, scope?: FaultScope): void;
  clearRequests(): void;
  /** Clears faults, latencies and the request log; collections and routes stay. */
  reset(): void;
  /** Closes the server, destroying held and keep-alive connections so the test process exits. */
  stop(): Promise<void>;
}

interface Collection {
  items: Item[];
  options: CollectionOptions;
}

/**
 * Starts a real HTTP server (default 127.0.0.1, random port) that plays an external platform's JSON
 * API: collections with every common paging style, custom routes, latency, injected faults and a
 * request log.
 *
 * A collection's GET picks its paging style from the query unless its options fix one:
 * `?paging=link` → page/size plus `Link: <…>; rel="next"`; `cursor` (or a bare `limit`) → opaque
 * cursor; `page`/`size` → pages (first page 1); `offset` → offset/limit; nothing → whole list.
 * The default body is `{ data, total, next }`.
 */
export async function startFakePlatform(options: FakePlatformOptions = {}): Promise<FakePlatform> {
  const collections = new Map<string, Collection>();
  const routes = new Map<string, RouteHandler>();
  const requests: RecordedRequest[] = [];
  const faults = createFaultBook();
  const stopping = new AbortController();
  let baseUrl = '';

  const collection = (path: string): Collection => {
    const found = collections.get(normalizePath(path));
    if (!found) throw new Error(`fake platform has no collection at ${path}`);
    return found;
  };

  const respond = async (method: string, path: string, url: URL, request: RecordedRequest) => {
    for (const [name, expected] of Object.entries(options.requireHeaders ?? {})) {
      if (request.headers[name.toLowerCase()] !== expected) {
        return { status: 401, body: { error: `missing or wrong ${name} header` } };
      }
    }
    const handler = routes.get(`${method} ${path}`);
    if (handler) return handler(request);

    const list = collections.get(path);
    if (list) {
      if (method !== 'GET') return { status: 405, body: { error: `${method} not allowed` } };
      return paginate(list.items, url, list.options);
    }
    const slash = path.lastIndexOf('/');
    const parent = collections.get(path.slice(0, slash));
    const idField = parent?.options.idField;
    if (parent && idField && method === 'GET') {
      const id = decodeURIComponent(path.slice(slash + 1));
      const item = parent.items.find((candidate) => String(candidate[idField]) === id);
      return item ? { status: 200, body: item } : { status: 404, body: { error: 'not found' } };
    }
    return { status: 404, body: { error: `no route for ${method} ${path}` } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = normalizePath(url.pathname);
    const request: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: await readBody(req),
      at: Date.now(),
    };
    requests.push(request);

    // Decided on arrival, so concurrent requests consume one-shot faults in arrival order.
    const fault = faults.takeFault(method, path);
    if (fault === 'timeout') return;
    const latency = faults.latencyFor(method, path);
    if (latency > 0) {
      const stopped = await sleep(latency, false, { signal: stopping.signal }).catch(() => true);
      if (stopped) return;
    }
    if (fault) {
      applyFault(fault, req, res);
      return;
    }
    let reply: FakeReply;
    try {
      reply = await respond(method, path, url, request);
    } catch (err) {
      reply = { status: 500, body: { error: `fake platform handler failed: ${String(err)}` } };
    }
    send(res, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  baseUrl = `http://${urlHost(options.host ?? '127.0.0.1')}:${(server.address() as AddressInfo).port}`;

  for (const [path, items] of Object.entries(options.collections ?? {})) {
    collections.set(normalizePath(path), { items: structuredClone(items), options: {} });
  }

  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    get requests() {
      return requests;
    },
    setCollection(path, items, collectionOptions = {}) {
      collections.set(normalizePath(path), {
        items: structuredClone([...items]),
        options: collectionOptions,
      });
    },
    addItem(path, item) {
      collection(path).items.push(structuredClone(item));
    },
    updateItem(path, predicate, patch) {
      const list = collection(path);
      let count = 0;
      list.items = list.items.map((item) => {
        if (!predicate(item)) return item;
        count += 1;
        return { ...item, ...structuredClone(typeof patch === 'function' ? patch(item) : patch) };
      });
      return count;
    },
    removeItem(path, predicate) {
      const list = collection(path);
      const before = list.items.length;
      list.items = list.items.filter((item) => !predicate(item));
      return before - list.items.length;
    },
    getCollection(path) {
      return structuredClone(collection(path).items);
    },
    route(method, path, handler) {
      routes.set(`${method.toUpperCase()} ${normalizePath(path)}`, handler);
    },
    setLatency: (ms, scope) => faults.setLatency(ms, scope),
    failNext: (count, fault, scope) => faults.failNext(count, fault, scope),
    setFault: (fault, scope) => faults.setFault(fault, scope),
    clearRequests() {
      requests.length = 0;
    },
    reset() {
      faults.reset();
      requests.length = 0;
    },
    stop() {
      closed ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The host part of a URL reaching `listenHost`; a wildcard address is reached via loopback. */
function urlHost(listenHost: string): string {
  if (listenHost === '0.0.0.0') return '127.0.0.1';
  if (listenHost === '::') return '[::1]';
  return listenHost.includes(':') ? `[${listenHost}]` : listenHost;
}

function normalizePath(path: string): string {
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, '') : withSlash;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  if (!(req.headers['content-type'] ?? '').includes('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function send(res: ServerResponse, reply: FakeReply): void {
  const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status ?? 200, {
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...reply.headers,
  });
  res.end(body);
}
