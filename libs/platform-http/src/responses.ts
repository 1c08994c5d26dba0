import type { Readable } from 'node:stream';
import type { Response } from 'node-fetch';
import { AppError, NonRetryableError } from '@psc/core';

/** An upstream status that says something about the platform; may carry Retry-After. */
export class UpstreamStatusError extends AppError {
  override name = 'UpstreamStatusError';
  /** Read by the messaging consumer: the retry waits at least this long. */
  readonly retryAfterMs: number | undefined;
  constructor(status: number, retryAfterMs: number | undefined) {
    const transient = status >= 500 || status === 429 || status === 408;
    super('upstream_status', transient ? 502 : 422, `platform answered HTTP ${status}`, {
      retryable: transient,
      details: { status },
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/** Retry-After as delta-seconds or an HTTP date; capped so a platform cannot park a job. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1_000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 3_600_000) : undefined;
}

/** Frees the socket of a response whose body we will not read. */
export function discard(response: Response): void {
  (response.body as unknown as Readable | null)?.destroy();
}

/** Reads a JSON body up to `maxBytes`; the body itself never goes into an error or a log. */
export async function readJson(response: Response, maxBytes: number): Promise<unknown> {
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
    throw new AppError(
      'bad_upstream_response',
      502,
      `platform sent ${size} bytes that are not valid JSON`,
      { retryable: true },
    );
  }
}
