import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A misbehaviour of the fake platform:
 * - `{ status, body?, headers? }` answers with that status (e.g. 503, or 429 + Retry-After);
 * - `'timeout'` never answers (until the server stops);
 * - `'reset'` drops the connection with a TCP RST;
 * - `'bad-json'` answers 200 with a truncated JSON body.
 */
export type FakeFault =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | 'timeout'
  | 'reset'
  | 'bad-json';

/** Limits a fault or latency to requests with this exact path and/or method. */
export interface FaultScope {
  path?: string;
  method?: string;
}

interface Scoped<T> {
  scope: FaultScope;
  value: T;
}

/** The faults and latencies a test has set, and which one applies to a request. */
export interface FaultBook {
  failNext(count: number, fault: FakeFault, scope?: FaultScope): void;
  setFault(fault: FakeFault | null, scope?: FaultScope): void;
  setLatency(ms: number, scope?: FaultScope): void;
  /** Consumes a one-shot fault if one matches, else returns the persistent one, if any. */
  takeFault(method: string, path: string): FakeFault | undefined;
  latencyFor(method: string, path: string): number;
  reset(): void;
}

export function createFaultBook(): FaultBook {
  const oneShots: Scoped<{ fault: FakeFault; remaining: number }>[] = [];
  let persistent: Scoped<FakeFault>[] = [];
  let latencies: Scoped<number>[] = [];

  return {
    failNext(count, fault, scope = {}) {
      if (!Number.isInteger(count) || count < 1) throw new Error('failNext count must be >= 1');
      oneShots.push({ scope: normalize(scope), value: { fault, remaining: count } });
    },
    setFault(fault, scope = {}) {
      const normalized = normalize(scope);
      persistent = persistent.filter((entry) => !sameScope(entry.scope, normalized));
      if (fault !== null) persistent.push({ scope: normalized, value: fault });
    },
    setLatency(ms, scope = {}) {
      const normalized = normalize(scope);
      latencies = latencies.filter((entry) => !sameScope(entry.scope, normalized));
      if (ms > 0) latencies.push({ scope: normalized, value: ms });
    },
    takeFault(method, path) {
      // One-shots go first and in the order they were queued, so `failNext` sequences replay
      // exactly; persistent faults and latencies pick the most specific scope.
      const index = oneShots.findIndex((entry) => matches(entry.scope, method, path));
      const oneShot = oneShots[index];
      if (oneShot) {
        oneShot.value.remaining -= 1;
        if (oneShot.value.remaining === 0) oneShots.splice(index, 1);
        return oneShot.value.fault;
      }
      return mostSpecific(persistent, method, path);
    },
    latencyFor(method, path) {
      return mostSpecific(latencies, method, path) ?? 0;
    },
    reset() {
      oneShots.length = 0;
      persistent = [];
      latencies = [];
    },
  };
}

/** Answers `res` according to `fault`. */
export function applyFault(fault: FakeFault, req: IncomingMessage, res: ServerResponse): void {
  if (fault === 'timeout') return; // stop() destroys the socket.
  if (fault === 'reset') {
    req.socket.resetAndDestroy();
    return;
  }
  if (fault === 'bad-json') {
    const truncated = '{"data":[{"id":1,"name":"trunc';
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(truncated),
    });
    res.end(truncated);
    return;
  }
  const body = fault.body === undefined ? '' : JSON.stringify(fault.body);
  res.writeHead(fault.status, {
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...fault.headers,
  });
  res.end(body);
}

function normalize(scope: FaultScope): FaultScope {
  return {
    ...(scope.path !== undefined ? { path: scope.path } : {}),
    ...(scope.method !== undefined ? { method: scope.method.toUpperCase() } : {}),
  };
}

function sameScope(a: FaultScope, b: FaultScope): boolean {
  return a.path === b.path && a.method === b.method;
}

function matches(scope: FaultScope, method: string, path: string): boolean {
  return (
    (scope.path === undefined || scope.path === path) &&
    (scope.method === undefined || scope.method === method)
  );
}

function mostSpecific<T>(entries: Scoped<T>[], method: string, path: string): T | undefined {
  let best: Scoped<T> | undefined;
  let bestScore = -1;
  for (const entry of entries) {
    if (!matches(entry.scope, method, path)) continue;
    const score = (entry.scope.path ? 2 : 0) + (entry.scope.method ? 1 : 0);
    if (score > bestScore) {
      best = entry;
      bestScore = score;
    }
  }
  return best?.value;
}
