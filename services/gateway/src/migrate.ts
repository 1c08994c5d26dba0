import { runMigrateCli } from '@psc/db';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

const config = loadConfig(process.env);
process.exitCode = await runMigrateCli({
  argv: process.argv.slice(2),
  databaseUrl: config.databaseUrl,
  schema: SCHEMA,
  migrations,
  log: (line) => process.stdout.write(`gateway: ${line}\n`),
});
