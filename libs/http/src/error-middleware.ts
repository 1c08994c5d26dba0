import type { Middleware } from 'koa';
import { z } from 'zod';
import { AppError, toErrorBody } from '@psc/core';
import type { Logger } from '@psc/telemetry';
import { codeForStatus, errorEnvelope } from './envelope.ts';

/** One bad field of a request, as listed in `details` of a `validation_failed` error. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** `['items', 0, 'name']` → `items[0].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

interface ExposedHttpError {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** koa/http-errors raised with `expose` (4xx from ctx.throw, body parsers, allowedMethods). */
function asExposedHttpError(err: unknown): ExposedHttpError | undefined {
  if (!(err instanceof Error)) return undefined;
  const status: unknown = Reflect.get(err, 'status') ?? Reflect.get(err, 'statusCode');
  if (Reflect.get(err, 'expose') !== true || typeof status !== 'number') return undefined;
  if (status < 400 || status > 599) return undefined;
  const headers: unknown = Reflect.get(err, 'headers');
  return {
    status,
    message: err.message,
    ...(headers !== null && typeof headers === 'object'
      ? { headers: headers as Record<string, string> }
      : {}),
  };
}

/**
 * Maps whatever a later middleware throws to the JSON error envelope
 * `{ error: { code, message, details?, traceId? } }`; mount it first.
 *
 * - `AppError` → its status, code, message and details;
 * - `ZodError` → 422 `validation_failed`, details = `{ path, message }[]`;
 * - koa/http-errors with `expose` → their status, code from the status text;
 * - anything else → 500 `internal` / `internal error`, logged with the error, message withheld.
 *
 * A response left without a body at status ≥ 400 (unmatched route → 404, 405 from
 * `allowedMethods`) also gets the envelope.
 */
export function errorMiddleware(options: { logger: Logger }): Middleware {
  const { logger } = options;
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (ctx.headerSent) throw err; // too late to answer: Koa's 'error' event reports it
      if (err instanceof AppError) {
        // A dependency being away (503/504) is an operational condition, not a bug: no stack.
        if (err.status >= 500) {
          logger.warn(
            {
              code: err.code,
              status: err.status,
              reason: err.message,
              method: ctx.method,
              path: ctx.path,
            },
            'request failed',
          );
        }
        const body = toErrorBody(err);
        ctx.status = body.status;
        ctx.body = errorEnvelope(body.code, body.message, body.details);
        return;
      }
      if (err instanceof z.core.$ZodError) {
        const details: ValidationIssue[] = err.issues.map((issue) => ({
          path: formatPath(issue.path),
          message: issue.message,
        }));
        const first = details[0];
        ctx.status = 422;
        ctx.body = errorEnvelope(
          'validation_failed',
          first ? `invalid ${first.path}: ${first.message}` : 'invalid request',
          details,
        );
        return;
      }
      const exposed = asExposedHttpError(err);
      if (exposed) {
        ctx.status = exposed.status;
        if (exposed.headers) ctx.set(exposed.headers);
        ctx.body = errorEnvelope(codeForStatus(exposed.status), exposed.message);
        return;
      }
      logger.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error');
      ctx.status = 500;
      ctx.body = errorEnvelope('internal', 'internal error');
      return;
    }
    if (ctx.status >= 400 && ctx.body == null) {
      const status = ctx.status;
      const message = status === 404 ? `no route for ${ctx.method} ${ctx.path}` : ctx.message;
      ctx.status = status; // make the default 404 explicit, or assigning a body turns it into 200
      ctx.body = errorEnvelope(codeForStatus(status), message);
    }
  };
}
