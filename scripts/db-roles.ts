/**
 * Gives each psc service a PostgreSQL login of its own, owning its schema and nothing else
 * (libs/db service-roles.ts), and prints each service's DATABASE_URL. Schemas an earlier shared
 * login created are handed over with their tables. Run it again to reset passwords; `--remove`
 * hands everything back to the admin login and drops the roles.
 *
 *   DATABASE_URL=postgres://<admin>@127.0.0.1:5432/psc npm run db-roles [-- --prefix psc_ --remove]
 *
 * A service's password is PSC_DB_PASSWORD_<SERVICE> (e.g. PSC_DB_PASSWORD_SYNC_WORKER) when set,
 * else a new random one, printed once in its DATABASE_URL (scripts/login-passwords.ts);
 * `--require-passwords` (the image's SERVICE=provision) makes a missing one an error.
 */
import { parseArgs } from 'node:util';
import { SERVICE_SCHEMAS, SERVICES } from '@psc/contracts';
import { describeDbError, provisionServiceRoles, removeServiceRoles } from '@psc/db';
import { dbRole, loginPasswords, loginUrl } from './login-passwords.ts';

const { values } = parseArgs({
  options: {
    prefix: { type: 'string', default: 'psc_' },
    remove: { type: 'boolean', default: false },
    'require-passwords': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run db-roles [-- --prefix psc_ --remove --require-passwords]   (DATABASE_URL of an admin login, PSC_DB_PASSWORD_<SERVICE>)',
  );
  process.exit(0);
}
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('db-roles: set DATABASE_URL to psc’s database, as a login that may create roles');
  process.exit(2);
}

const passwords = values.remove ? [] : loginPasswords('DB', SERVICES, values['require-passwords']);
const roles = SERVICES.map((service, i) => ({
  service,
  role: dbRole(service, values.prefix),
  schema: SERVICE_SCHEMAS[service],
  password: passwords[i]?.password ?? '',
}));

try {
  if (values.remove) {
    await removeServiceRoles(
      adminUrl,
      roles.map((r) => r.role),
    );
    console.log(`removed ${roles.map((r) => r.role).join(', ')}`);
  } else {
    await provisionServiceRoles(adminUrl, roles);
    roles.forEach((r, i) =>
      console.log(`${r.service}\tDATABASE_URL=${loginUrl(adminUrl, r.role, passwords[i]!)}`),
    );
  }
} catch (err) {
  // One line, as the migrate CLI prints: the cause, never the URL's password.
  console.error(`db-roles failed: ${describeDbError(err)}`);
  process.exit(1);
}
