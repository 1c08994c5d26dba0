import { z } from 'zod';
import { commonEnv, parseEnv, portEnv } from '@psc/core';
import { expressionBudgetEnv, expressionBudgetOf } from '@psc/platform-http';

/** 32 bytes as 64 hex digits or base64; the message never echoes the value. */
const secretKey = z
  .string({ error: 'required: 32 random bytes, base64 or hex (e.g. openssl rand -base64 32)' })
  .transform((value, ctx) => {
    const text = value.trim();
    const bytes = /^[0-9a-f]{64}$/i.test(text)
      ? Buffer.from(text, 'hex')
      : /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
        ? Buffer.from(text, 'base64')
        : undefined;
    if (bytes?.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64 or hex' });
      return z.NEVER;
    }
    return bytes;
  });

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8081),
  /** Encrypts platform credentials at rest (AES-256-GCM). */
  PSC_SECRET_KEY: secretKey,
  /** Hosts, addresses and CIDRs platforms may use although they are loopback or private. */
  PSC_EGRESS_ALLOW: z.string().default(''),
  /** Budget of each JSONata evaluation: save-time dry runs and `/test`. */
  ...expressionBudgetEnv,
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    secretKey: e.PSC_SECRET_KEY,
    expressionBudget: expressionBudgetOf(e),
    egressAllow: e.PSC_EGRESS_ALLOW.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
}
