import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import { AppError, BadRequestError } from '@psc/core';

declare module 'koa' {
  interface Request {
    /** Parsed JSON set by {@link jsonBody}; `undefined` when the request had no body. */
    body?: unknown;
  }
}

export interface JsonBodyOptions {
  /** Largest accepted body in bytes; 1 MiB when omitted. */
  limitBytes?: number;
  /** How much of a refused body is read and dropped; {@link DISCARD_LIMIT_BYTES} when omitted. */
  discardLimitBytes?: number;
}

/**
 * How much of a refused body is read and dropped after the error answer. Closing at once would
 * reset a client still sending (a broken pipe instead of the 413 it should read, as nginx's
 * lingering close avoids); past this bound the connection is reset: a bound on the work.
 */
export const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops what is left of a request body, then resolves; past `limitBytes` the socket
 * is destroyed instead. Nothing is kept, so memory stays flat whatever the client sends.
 */
export function discardRest(
  req: IncomingMessage,
  limitBytes: number = DISCARD_LIMIT_BYTES,
): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) {
      resolve();
      return;
    }
    let read = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', done);
      req.off('close', onClose);
      req.off('error', done);
      req.socket.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      read += chunk.length;
      if (read > limitBytes) {
        done();
        req.socket.destroy();
      }
    };
    // The request emits 'close' once the answer is sent, while its body may still be coming:
    // only the end of the body or of the connection ends the dropping.
    const onClose = (): void => {
      if (req.socket.destroyed) done();
      else req.socket.once('close', done);
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('close', onClose);
    req.once('error', done);
    req.resume();
  });
}

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEFAULT_LIMIT_BYTES = 1024 * 1024;

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? '0');
  return Number.isFinite(length) && length > 0;
}

function tooLarge(limitBytes: number): AppError {
  return new AppError('payload_too_large', 413, `request body exceeds ${limitBytes} bytes`);
}

/** Reads at most `limitBytes`, rejecting as soon as the stream goes past it. */
function readLimited(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (req.readableEnded) {
      reject(new Error('request body was already consumed by an earlier middleware'));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) {
        cleanup();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new BadRequestError(`request body could not be read: ${err.message}`));
    };
    const onClose = (): void => {
      cleanup();
      reject(new BadRequestError('request body was cut short'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/**
 * Parses a JSON request body into `ctx.request.body` for POST/PUT/PATCH/DELETE requests that
 * carry one. A body needs `content-type: application/json` (or `+json`) in UTF-8, else 415; more
 * than `limitBytes` gives 413, detected while streaming (and from `content-length` up front);
 * malformed JSON gives 400. Requests without a body pass through with `body` undefined.
 */
export function jsonBody(options: JsonBodyOptions = {}): Middleware {
  const limitBytes = options.limitBytes ?? DEFAULT_LIMIT_BYTES;
  const discardLimitBytes = options.discardLimitBytes ?? DISCARD_LIMIT_BYTES;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return async (ctx, next) => {
    if (!METHODS_WITH_BODY.has(ctx.method) || !hasBody(ctx.req)) {
      await next();
      return;
    }
    if (!ctx.request.is('application/json', 'application/*+json')) {
      throw new AppError('unsupported_media_type', 415, 'content-type must be application/json');
    }
    const charset = ctx.request.charset;
    const encoding = ctx.get('content-encoding');
    if ((charset && charset.toLowerCase() !== 'utf-8') || (encoding && encoding !== 'identity')) {
      throw new AppError('unsupported_media_type', 415, 'body must be uncompressed UTF-8 JSON');
    }
    const declared = Number(ctx.get('content-length') || '0');
    if (declared > limitBytes) {
      // Answered at once; the body is dropped as it comes, or the connection closed when it
      // is declared larger than we would ever drop.
      if (declared > discardLimitBytes) ctx.set('Connection', 'close');
      else void discardRest(ctx.req, discardLimitBytes);
      throw tooLarge(limitBytes);
    }
    let raw: Buffer;
    try {
      raw = await readLimited(ctx.req, limitBytes);
    } catch (err) {
      if (err instanceof AppError && err.status === 413)
        void discardRest(ctx.req, discardLimitBytes);
      throw err;
    }
    try {
      ctx.request.body = JSON.parse(decoder.decode(raw)) as unknown;
    } catch {
      throw new BadRequestError('request body is not valid JSON');
    }
    await next();
  };
}
