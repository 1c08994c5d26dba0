import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `env` with `schema` once at start-up. On failure throws a ConfigError whose message is
 * one line naming every bad variable, so `main.ts` can print it and exit non-zero. An empty
 * value counts as unset (`HTTP_PORT=` in a `.env` file): number coercion would read it as 0.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const result = schema.safeParse(
    new Proxy(env, { get: (target, key): unknown => Reflect.get(target, key) || undefined }),
  );
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(env)';
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** Env entries every service reads, with local-development defaults. */
export const commonEnv = {
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\/\S+$/, 'must be an amqp:// or amqps:// URL')
    .refine((url) => URL.canParse(url), 'must be a valid URL')
    .default('amqp://guest:guest@127.0.0.1:5672'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
    .refine((url) => URL.canParse(url), 'must be a valid URL')
    .default('postgres://postgres@127.0.0.1:5432/psc'),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};

/** `DATABASE_URL` alone: for a tool that needs nothing else of a service's config (its migrate CLI). */
export const databaseEnv = z.object({ DATABASE_URL: commonEnv.DATABASE_URL });

/**
 * A whole-number setting from `min` to `max`, written as one: number coercion alone read `15m`
 * as NaN ("expected number, received NaN") and took `0x10`, `1e3` and `12.0` as numbers.
 */
export const intEnv = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*[+-]?\d+\s*$/, 'must be a whole number, digits only (no unit)')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const portEnv = (fallback: number) => intEnv(0, 65_535).default(fallback);

/**
 * A 32-byte key given as 64 hex digits or base64 (`openssl rand -base64 32`), parsed to its
 * bytes. Neither message echoes the value.
 */
export const secretKeyEnv = () =>
  z
    .string({ error: 'required: 32 random bytes, base64 or hex (e.g. openssl rand -base64 32)' })
    .transform((value, ctx) => {
      const bytes = keyBytes(value);
      if (!bytes) {
        ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64 or hex' });
        return z.NEVER;
      }
      return bytes;
    });

/** Such keys, comma-separated, possibly none; a message names a bad one by its place only. */
export const secretKeysEnv = () =>
  z
    .string()
    .default('')
    .transform((value, ctx) => {
      const texts = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      const keys = texts.map(keyBytes);
      const bad = keys.findIndex((k) => k === undefined);
      if (bad >= 0) {
        ctx.addIssue({
          code: 'custom',
          message: `key ${bad + 1} of ${keys.length} must be 32 bytes, base64 or hex`,
        });
        return z.NEVER;
      }
      return keys as Buffer[];
    });

function keyBytes(value: string): Buffer | undefined {
  const text = value.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
      ? Buffer.from(text, 'base64')
      : undefined;
  return bytes?.length === 32 ? bytes : undefined;
}
