/**
 * Writes what docker-compose.yml needs into `.env` (which compose reads by itself): the three
 * secrets and the ten passwords of the per-service logins, each a fresh random value. Values
 * already in the file, or in the environment, are kept, so running it again changes nothing and
 * stored credentials stay readable. Prints the names it added, never a value.
 *
 *   npm run compose-env [-- --file .env]
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SERVICES } from '@psc/contracts';
import { passwordVariable } from './login-passwords.ts';

const { values } = parseArgs({ options: { file: { type: 'string', default: '.env' } } });

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const wanted: Record<string, () => string> = {
  PSC_SECRET_KEY: () => randomBytes(32).toString('base64'),
  PSC_WORKER_SECRET_KEY: () => randomBytes(32).toString('base64'),
  PSC_ADMIN_API_KEY: () => `psc_${hex(24)}`,
  // Hex: the passwords go into AMQP_URL and DATABASE_URL unescaped.
  ...Object.fromEntries(
    SERVICES.flatMap((service) => [
      [passwordVariable('BROKER', service), () => hex(24)],
      [passwordVariable('DB', service), () => hex(24)],
    ]),
  ),
};

const lines = existsSync(values.file) ? readFileSync(values.file, 'utf8').split('\n') : [];
if (lines.at(-1) === '') lines.pop();
/** The line setting `name`, if any: an empty one (copied from .env.example, say) is filled in. */
const lineOf = (name: string) =>
  lines.findIndex((line) => new RegExp(`^\\s*${name}\\s*=`).test(line));
const isSet = (name: string) => /=\s*\S/.test(lines[lineOf(name)] ?? '') || !!process.env[name];
const added = Object.keys(wanted).filter((name) => !isSet(name));
for (const name of added) {
  const at = lineOf(name);
  const line = `${name}=${wanted[name]!()}`;
  if (at >= 0) lines[at] = line;
  else lines.push(line);
}
if (added.length > 0) writeFileSync(values.file, `${lines.join('\n')}\n`, { mode: 0o600 });
console.log(
  added.length > 0
    ? `${values.file}: added ${added.join(', ')}`
    : `${values.file}: nothing to add (every value is set)`,
);
