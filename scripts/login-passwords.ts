/**
 * The passwords of the per-service logins that `npm run broker-users` and `npm run db-roles`
 * provision: `PSC_<KIND>_PASSWORD_<SERVICE>` (e.g. PSC_DB_PASSWORD_SYNC_WORKER) when set, else a
 * new random one. A password from the environment is never printed (the provisioning container's
 * log would keep it); a new one is printed once in its service's URL, as no one else knows it.
 */
import { randomBytes } from 'node:crypto';

export type LoginKind = 'BROKER' | 'DB';

export interface LoginPassword {
  service: string;
  password: string;
  /** Made here: the only place it will ever be shown is this run's output. */
  generated: boolean;
}

/** A service's PostgreSQL login, `<prefix><service>` with `_` for `-` (`npm run db-roles`). */
export const dbRole = (service: string, prefix = 'psc_'): string =>
  `${prefix}${service.replace(/-/g, '_')}`;

export const passwordVariable = (kind: LoginKind, service: string): string =>
  `PSC_${kind}_PASSWORD_${service.toUpperCase().replace(/-/g, '_')}`;

/**
 * With `required` (the image's `SERVICE=provision`), a missing variable is an error naming every
 * missing one: a made-up password there would lock the service out, since no one would see it.
 */
export function loginPasswords(
  kind: LoginKind,
  services: readonly string[],
  required: boolean,
): LoginPassword[] {
  const missing = services.map((s) => passwordVariable(kind, s)).filter((v) => !process.env[v]);
  if (required && missing.length > 0) {
    console.error(`set ${missing.join(', ')} (--require-passwords)`);
    process.exit(2);
  }
  return services.map((service) => {
    const given = process.env[passwordVariable(kind, service)];
    return given
      ? { service, password: given, generated: false }
      : { service, password: randomBytes(24).toString('base64url'), generated: true };
  });
}

/** A server's URL (AMQP, PostgreSQL, the management API) with another login. */
export function withLogin(base: string, user: string, password = ''): string {
  const url = new URL(base);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** `url` as `user`, with the password only when it was generated here. */
export const loginUrl = (base: string, user: string, login: LoginPassword): string =>
  withLogin(base, user, login.generated ? login.password : '');
