import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import fetch, { type Response } from 'node-fetch';
import CircuitBreaker from 'opossum';
import { AppError, NonRetryableError, TimeoutError, UnavailableError } from '@psc/core';
import type { PlatformWithSecrets as Platform } from '@psc/contracts';
import { DeferError } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { PageRequest } from '../domain/pages.ts';

export interface PlatformResponse {
  status: number;
  body: unknown;
  url: string;
}

/** An upstream answer that says something about the platform, not about our request. */
function statusError(status: number): AppError {
  if (status >= 500 || status === 429 || status === 408) {
    return new AppError('upstream_status', 502, `platform answered HTTP ${status}`, {
      retryable: true,
    });
  }
  return new NonRetryableError('upstream_status', `platform answered HTTP ${status}`);
}

/** Frees the socket of a response whose body we will not read. */
function discard(response: Response): void {
  (response.body as unknown as Readable | null)?.destroy();
}

async function readJson(response: Response, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) {
        discard(response);
        throw new NonRetryableError(
          'response_too_large',
          `platform response exceeds ${maxBytes} bytes`,
        );
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('bad_upstream_response', 502, 'platform response was cut off', {
      retryable: true,
    });
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    // The body itself is never logged or echoed: it may be huge or hold someone's data.
    throw new AppError(
      'bad_upstream_response',
      502,
      `platform sent ${size} bytes that are not valid JSON`,
      {
        retryable: true,
      },
    );
  }
}

export function buildUrl(baseUrl: string, request: PageRequest): string {
  const url = new URL(baseUrl.replace(/\/+$/, '') + request.path);
  for (const [k, v] of Object.entries(request.query)) url.searchParams.set(k, v);
  return url.toString();
}

/**
 * Calls platforms with node-fetch over keep-alive connections, one opossum breaker per platform.
 * Only failures that say the platform is unwell (5xx, 429, timeouts, connection errors) count
 * towards opening the breaker; an open breaker defers the job instead of failing it.
 */
export function createPlatformClient(options: { maxBytes: number; logger: Logger }) {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  const breakers = new Map<
    string,
    { version: number; breaker: CircuitBreaker<[Platform, PageRequest], PlatformResponse> }
  >();

  async function call(platform: Platform, request: PageRequest): Promise<PlatformResponse> {
    const url = buildUrl(platform.baseUrl, request);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(platform.timeoutMs),
        agent: (u) => (u.protocol === 'https:' ? httpsAgent : httpAgent),
      });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new TimeoutError(`platform did not answer within ${platform.timeoutMs} ms`);
      }
      throw new UnavailableError(
        `cannot reach platform: ${(err as { code?: string }).code ?? name}`,
      );
    }
    if (response.status >= 300 && response.status < 400) {
      discard(response);
      throw new NonRetryableError(
        'redirect_blocked',
        `platform redirected (HTTP ${response.status}); redirects are not followed`,
      );
    }
    if (!response.ok) {
      discard(response);
      throw statusError(response.status);
    }
    const body = await readJson(response, options.maxBytes);
    return { status: response.status, body, url };
  }

  function breakerFor(platform: Platform) {
    const existing = breakers.get(platform.id);
    if (existing && existing.version === platform.version) return existing.breaker;
    existing?.breaker.shutdown();
    const breaker = new CircuitBreaker(call, {
      timeout: false, // each request has its own AbortSignal timeout
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: 30_000,
      errorFilter: (err: unknown) => err instanceof AppError && !err.retryable,
    });
    breaker.on('open', () => options.logger.warn({ platformId: platform.id }, 'breaker opened'));
    breaker.on('close', () => options.logger.info({ platformId: platform.id }, 'breaker closed'));
    breakers.set(platform.id, { version: platform.version, breaker });
    return breaker;
  }

  return {
    async get(platform: Platform, request: PageRequest): Promise<PlatformResponse> {
      const breaker = breakerFor(platform);
      try {
        return await breaker.fire(platform, request);
      } catch (err) {
        if ((err as { code?: string }).code === 'EOPENBREAKER') {
          throw new DeferError(`breaker for platform ${platform.name} is open`, 30_000);
        }
        throw err;
      }
    },
    close(): void {
      for (const { breaker } of breakers.values()) breaker.shutdown();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export type PlatformClient = ReturnType<typeof createPlatformClient>;
