import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import fetch, { type RequestInit, type Response } from 'node-fetch';
import { AppError, NonRetryableError, TimeoutError, UnavailableError } from '@psc/core';
import type { PlatformWithSecrets as Platform } from '@psc/contracts';
import type { EgressGuard } from '@psc/egress';
import { markSecretQueryParam } from '@psc/telemetry';
import type { PlatformBreakers } from './breakers.ts';
import { PlatformDeferral } from './deferrals.ts';
import { requestOutcome, type PlatformMetrics } from './platform-metrics.ts';
import { UpstreamStatusError, discard, parseRetryAfter, readJson } from './responses.ts';

/**
 * A call to a platform: a path on its base URL with query, or an absolute URL (a `Link:
 * rel="next"` target). Headers and body come from the resource; credentials are added here.
 */
export type PlatformRequest = {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
} & ({ path: string; query?: Record<string, string> } | { url: string });

export interface PlatformResponse {
  status: number;
  body: unknown;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  /** The URL called, without query-string credentials: safe to store as provenance. */
  url: string;
}

/** How a request is made, besides what it asks. */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
  /**
   * Set on a job's first request, to the job's key (job and run): rather than wait long in its
   * worker slot for the platform's rate-limit turn or a free request slot, the job is deferred
   * (DeferError), its turn booked under this key. Nothing is lost: it has done nothing yet.
   */
  deferAs?: string | undefined;
}

/** Runs a call inside the platform's shared rate and concurrency limits. */
export type PlatformLimit = <T>(
  platform: Platform,
  task: () => Promise<T>,
  options: RequestOptions,
) => Promise<T>;

/** The URL to call (credentials applied) and the same URL without them. */
export function buildUrl(platform: Platform, request: PlatformRequest) {
  const url =
    'url' in request
      ? new URL(request.url)
      : new URL(platform.baseUrl.replace(/\/+$/, '') + request.path);
  if ('path' in request) {
    for (const [k, v] of Object.entries(request.query ?? {})) url.searchParams.set(k, v);
  }
  const safeUrl = url.toString();
  if (platform.auth.type === 'query') {
    // Spans record the URL called: its credential parameter is scrubbed from them by name.
    markSecretQueryParam(platform.auth.name);
    url.searchParams.set(platform.auth.name, platform.auth.token);
  }
  return { url: url.toString(), safeUrl };
}

function requestHeaders(platform: Platform, request: PlatformRequest, withBody: boolean) {
  // Lower-cased so a resource header and the auth header of the same name cannot both be sent.
  const headers: Record<string, string> = { accept: 'application/json' };
  if (withBody) headers['content-type'] = 'application/json';
  for (const [k, v] of Object.entries(request.headers ?? {})) headers[k.toLowerCase()] = v;
  const auth = platform.auth;
  if (auth.type === 'bearer') headers.authorization = `Bearer ${auth.token}`;
  if (auth.type === 'header') headers[auth.name.toLowerCase()] = auth.token;
  return headers;
}

/**
 * Calls platforms with node-fetch over keep-alive connections: the egress guard checks every URL
 * (each page and next link) and every connection's address, credentials go where the platform
 * says, redirects are refused, bodies are size-capped, each call has the platform's timeout.
 * Calls run inside the platform's breaker (an open one defers the job) and, when given, its
 * shared rate and concurrency limits.
 */
export function createPlatformHttpClient(options: {
  /** The process-wide response size cap; a platform's own `maxResponseBytes` may lower it. */
  maxBytes: number;
  egress: Pick<EgressGuard, 'checkUrl' | 'lookup'>;
  breakers: PlatformBreakers;
  limit?: PlatformLimit;
  maxSockets?: number;
  metrics?: PlatformMetrics;
}) {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? 32,
    lookup: options.egress.lookup,
  };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  async function call(
    platform: Platform,
    request: PlatformRequest,
    signal: AbortSignal | undefined,
    seen: { status?: number },
  ): Promise<PlatformResponse> {
    const target = buildUrl(platform, request);
    await options.egress.checkUrl(target.url);
    // A timer cleared when the call ends, not AbortSignal.timeout: that one stays armed (and
    // keeps the signals listening to it alive) until it fires, long after the request is done,
    // and then builds a DOMException for nothing; at a hundred requests a second, thousands.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), platform.timeoutMs);
    const stop = () => deadline.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      return await send(platform, request, target, signal, deadline.signal, seen);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  /** One request under `deadline` (the call's timeout or the caller's stop). */
  async function send(
    platform: Platform,
    request: PlatformRequest,
    { url, safeUrl }: { url: string; safeUrl: string },
    signal: AbortSignal | undefined,
    deadline: AbortSignal,
    seen: { status?: number },
  ): Promise<PlatformResponse> {
    const method = request.method ?? 'GET';
    const withBody = method === 'POST' && request.body !== undefined;
    if (signal?.aborted) throw signal.reason as Error;
    const init: RequestInit = {
      method,
      headers: requestHeaders(platform, request, withBody),
      redirect: 'manual',
      signal: deadline,
      agent: (u) => (u.protocol === 'https:' ? httpsAgent : httpAgent),
      ...(withBody ? { body: JSON.stringify(request.body) } : {}),
    };
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (signal?.aborted) throw signal.reason as Error;
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new TimeoutError(`platform did not answer within ${platform.timeoutMs} ms`);
      }
      const code = (err as { code?: string }).code;
      // Refused at connect time (DNS rebinding); node-fetch's message would quote the URL.
      if (code === 'egress_denied') {
        throw new NonRetryableError('egress_denied', 'egress denied: platform address refused');
      }
      // Node's HTTP parser reads at most 16 KiB of headers (a single huge one, or thousands):
      // the platform's answer, the same next time, so not worth four tries and a breaker count.
      if (code === 'HPE_HEADER_OVERFLOW') {
        throw new NonRetryableError(
          'response_headers_too_large',
          'platform response headers exceed the 16 KiB Node.js reads',
        );
      }
      throw new UnavailableError(`cannot reach platform: ${code ?? name}`);
    }
    seen.status = response.status;
    if (response.status >= 300 && response.status < 400) {
      discard(response);
      throw new NonRetryableError(
        'redirect_blocked',
        `platform redirected (HTTP ${response.status}); redirects are not followed`,
      );
    }
    if (!response.ok) {
      discard(response);
      throw new UpstreamStatusError(
        response.status,
        parseRetryAfter(response.headers.get('retry-after')),
      );
    }
    const body = await readJson(response, Math.min(options.maxBytes, platform.maxResponseBytes));
    return {
      status: response.status,
      body,
      headers: Object.fromEntries(response.headers),
      url: safeUrl,
    };
  }

  return {
    request(
      platform: Platform,
      request: PlatformRequest,
      requestOptions: RequestOptions = {},
    ): Promise<PlatformResponse> {
      const { signal } = requestOptions;
      const once = async () => {
        const seen: { status?: number } = {};
        const started = performance.now();
        let error: unknown;
        try {
          return await call(platform, request, signal, seen);
        } catch (err) {
          error = err;
          throw err;
        } finally {
          // Requests the egress guard refused before sending count too (egress_denied).
          options.metrics?.request(
            platform.id,
            requestOutcome(seen.status, error),
            (performance.now() - started) / 1000,
          );
        }
      };
      const limit = options.limit;
      // The breaker goes first: an open one defers the job without taking a rate slot.
      const called = options.breakers.fire(
        platform,
        once,
        limit ? (call) => limit(platform, call, requestOptions) : undefined,
      );
      const metrics = options.metrics;
      if (!metrics) return called;
      return called.catch((err: unknown) => {
        if (err instanceof PlatformDeferral) metrics.deferred(platform.id, err.reason);
        throw err;
      });
    },
    close(): void {
      options.breakers.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export type PlatformHttpClient = ReturnType<typeof createPlatformHttpClient>;
