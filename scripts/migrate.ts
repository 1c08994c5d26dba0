/**
 * `npm run migrate -- latest|rollback|status`: runs each service's own migration CLI in turn
 * against DATABASE_URL (each service migrates only its own schema).
 */
import { spawnSync } from 'node:child_process';

const SERVICES = ['gateway', 'platform-registry', 'scheduler', 'sync-worker', 'collector'];
const action = process.argv[2] ?? 'status';
let failed = 0;
for (const name of SERVICES) {
  const result = spawnSync(process.execPath, [`services/${name}/src/migrate.ts`, action], {
    stdio: 'inherit',
    env: process.env,
  });
  if (result.status !== 0) failed = result.status ?? 1;
}
process.exit(failed);
