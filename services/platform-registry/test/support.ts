import { randomBytes } from 'node:crypto';
import { platformInput } from '@psc/contracts';
import { DEFAULT_EXPRESSION_BUDGET } from '@psc/platform-http';
import type { IsolatedEnv } from '@psc/testing';
import type { Config } from '../src/config.ts';

/** The registry's configuration for an in-process test: its env's servers, fresh keys, defaults. */
export function registryConfig(env: IsolatedEnv, overrides: Partial<Config> = {}): Config {
  return {
    amqpUrl: env.amqpUrl,
    databaseUrl: env.databaseUrl,
    http: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    secretKey: randomBytes(32),
    previousSecretKeys: [],
    workerSecretKey: randomBytes(32),
    expressionBudget: DEFAULT_EXPRESSION_BUDGET,
    egressAllow: ['127.0.0.1'],
    webhooks: {
      maxAttempts: 8,
      retryBaseMs: 5_000,
      retryMaxMs: 3_600_000,
      disableAfter: 10,
      timeoutMs: 10_000,
      pollMs: 1_000,
      retentionDays: 7,
    },
    ...overrides,
  };
}

/** A platform of one resource, `booths` at `/booth/all`, as a fake platform serves it. */
export const platformAt = (baseUrl: string, name: string) =>
  platformInput.parse({
    name,
    baseUrl,
    resources: [
      {
        name: 'booths',
        request: { path: '/booth/all' },
        itemsPath: 'data',
        key: 'boothName',
        mapping: { name: 'boothName' },
      },
    ],
  });
