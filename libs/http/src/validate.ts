import { z } from 'zod';

/**
 * Parses `value` with `schema`. A failure throws the `ZodError`, which the error middleware turns
 * into a 422 `validation_failed` envelope.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  return schema.parse(value);
}

/** Like {@link parse}, with every issue path starting at `location` (`body.name`, `query.limit`). */
function parseAt<S extends z.ZodType>(location: string, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new z.ZodRealError(
    result.error.issues.map((issue) => ({ ...issue, path: [location, ...issue.path] })),
  );
}

/** The JSON body (set by `jsonBody()`), parsed; issue paths start with `body`. */
export function body<S extends z.ZodType>(
  ctx: { request: { body?: unknown } },
  schema: S,
): z.infer<S> {
  return parseAt('body', schema, ctx.request.body);
}

/** The query string object, parsed (use `z.coerce` for numbers); issue paths start with `query`. */
export function query<S extends z.ZodType>(ctx: { query: unknown }, schema: S): z.infer<S> {
  return parseAt('query', schema, ctx.query);
}

/** Router path parameters, parsed; issue paths start with `params`. */
export function params<S extends z.ZodType>(ctx: { params: unknown }, schema: S): z.infer<S> {
  return parseAt('params', schema, ctx.params);
}
