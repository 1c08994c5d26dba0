import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type { z } from 'zod';
import { body as parseBody, params as parseParams, query as parseQuery } from '@psc/http';
import { requireRole, type Role } from './auth.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One response of an operation: JSON with `schema`, other media types in `content`, or none. */
interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  content?: Record<string, z.ZodType>;
  headers?: z.ZodObject;
}

/**
 * Everything the API says about one route: the router mounts it from here (path, role, input
 * schemas) and the OpenAPI document is generated from the same object, so the two cannot
 * drift. Paths are the router's (`/platforms/:id`), relative to `/api/v1` unless `prefix` says.
 */
export interface Operation<
  P extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: Method;
  path: string;
  /** Mounted under `/api/v1` (and needs a key) unless `''`. */
  prefix?: '/api/v1' | '';
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** The least role the key needs; `null` for the routes outside `/api/v1` (no key). */
  role: Role | null;
  params?: P;
  query?: Q;
  /** A JSON body, parsed before the handler runs; make it `.optional()` if it may be left out. */
  body?: B;
  /** A body the handler reads itself (not JSON-parsed first), documented per media type. */
  rawBody?: Record<string, z.ZodType>;
  /** Request headers the route reads (If-Match). */
  headers?: z.ZodObject;
  responses: Record<number, ResponseSpec>;
  /** Error statuses the route itself can answer, besides those every `/api/v1` route has. */
  errors?: number[];
}

type In<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Input<P, Q, B> {
  params: In<P>;
  query: In<Q>;
  body: In<B>;
}

/** Keeps an operation's schema types for the handler that {@link route} mounts with it. */
export function operation<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(op: Operation<P, Q, B>): Operation<P, Q, B> {
  return op;
}

/** The router path of an operation, as Koa serves it. */
export const fullPath = (op: Operation): string => `${op.prefix ?? '/api/v1'}${op.path}`;

/**
 * Mounts `op` on `router` (which must carry the operation's prefix): the role check, then the
 * path, query and body parsed with the operation's own schemas (422 naming each bad field), then
 * `handler` with the parsed input.
 */
export function route<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(
  router: Router,
  op: Operation<P, Q, B>,
  handler: (ctx: RouterContext, input: Input<P, Q, B>) => Promise<void> | void,
): void {
  const middleware = [
    ...(op.role ? [requireRole(op.role)] : []),
    async (ctx: RouterContext) => {
      const input = {
        params: op.params ? parseParams(ctx, op.params) : undefined,
        query: op.query ? parseQuery(ctx, op.query) : undefined,
        body: op.body ? parseBody(ctx, op.body) : undefined,
      } as Input<P, Q, B>;
      await handler(ctx, input);
    },
  ];
  router[op.method](op.path, ...middleware);
}

/**
 * Answers with an owner's reply as it came (`RpcClient.relay`): the JSON text is not parsed and
 * serialised again on its way through.
 */
export async function relay(ctx: RouterContext, reply: Promise<Buffer>): Promise<void> {
  const json = await reply;
  ctx.type = 'application/json';
  ctx.body = json;
}
