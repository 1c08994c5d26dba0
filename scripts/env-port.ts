/**
 * A port from the environment as the services read theirs: unset or empty means `fallback`
 * (an `.env` line left empty), anything but a whole number 0–65535 stops with one line naming
 * the variable, rather than a server listening on a random port (Number('') is 0) or failing
 * with NaN further on.
 */
export function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) {
    process.stderr.write(`psc: ${name} must be a port (0–65535), got ${JSON.stringify(raw)}\n`);
    process.exit(1);
  }
  return port;
}
