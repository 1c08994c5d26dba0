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

const ignore = (): void => undefined;

const cutOff = (): AppError =>
  new AppError('bad_upstream_response', 502, 'platform response was cut off', {
    retryable: true,
  });

function parseBody(chunks: Buffer[], size: number): unknown {
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch {
    throw new AppError(
      'bad_upstream_response',
      502,
      `platform sent ${size} bytes that are not valid JSON`,
      { retryable: true },
    );
  }
}

/**
 * Reads a JSON body up to `maxBytes`; the body itself never goes into an error or a log. Read
 * through the stream's events, not `for await`: its async iterator costs a generator, an
 * end-of-stream watcher and a promise per chunk, on every page of every job.
 */
export function readJson(response: Response, maxBytes: number): Promise<unknown> {
  const body = response.body as unknown as Readable | null;
  if (!body) return Promise.resolve().then(() => parseBody([], 0));
  // Gone before it was read (its close already emitted): nothing more will come.
  if (body.destroyed) return Promise.reject(cutOff());
  // Errors after the answer (a late abort, the destroy of an oversized body) have nowhere to go.
  body.on('error', ignore);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: () => unknown): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onCut);
      body.off('close', onCut);
      try {
        resolve(outcome());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > maxBytes) {
        settle(() => {
          discard(response);
          throw new NonRetryableError(
            'response_too_large',
            `platform response exceeds ${maxBytes} bytes`,
          );
        });
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      settle(() => parseBody(chunks, size));
    }
    // An error (the call's deadline, a reset) or a close before the end: the body is not whole.
    function onCut(): void {
      settle(() => {
        throw cutOff();
      });
    }
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onCut);
    body.once('close', onCut);
  });
}
