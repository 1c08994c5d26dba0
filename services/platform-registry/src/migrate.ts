import { runMigrateCli } from '@psc/db';
import { SCHEMA, migrations } from '../migrations/index.ts';

// DATABASE_URL only: migrating needs none of the service's secrets.
process.exitCode = await runMigrateCli({
  argv: process.argv.slice(2),
  env: process.env,
  schema: SCHEMA,
  migrations,
  log: (line) => process.stdout.write(`platform-registry: ${line}\n`),
});
