/**
 * Which secret environment variables each service reads, taken from its config.ts: a deployment
 * must give a service exactly these, and no other service any of them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES, type ServiceName } from '../../../libs/contracts/src/index.ts';
import { ROOT } from './tools.ts';

/** Variables that carry a secret (a key, or a URL with credentials) only some services need. */
export const SECRET_VARIABLES = [
  'PSC_SECRET_KEY',
  'PSC_SECRET_KEY_PREVIOUS',
  'PSC_WORKER_SECRET_KEY',
  'PSC_WORKER_SECRET_KEY_PREVIOUS',
  'PSC_ADMIN_API_KEY',
  'RABBITMQ_MANAGEMENT_URL',
] as const;

/** The entries of SECRET_VARIABLES that `services/<service>/src/config.ts` parses. */
export function secretsReadBy(service: ServiceName): string[] {
  const config = readFileSync(join(ROOT, 'services', service, 'src/config.ts'), 'utf8');
  return SECRET_VARIABLES.filter((name) => new RegExp(`\\b${name}\\s*:`).test(config));
}

export { SERVICES };
