/** Replaces the password in a URL with *** so URLs can go into error messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * Returns `raw` with its path replaced by one already-encoded segment, keeping credentials and
 * query (e.g. an AMQP `heartbeat` or a PostgreSQL `sslmode`).
 */
export function withPathSegment(raw: string, encodedSegment: string): string {
  const url = new URL(raw);
  url.pathname = `/${encodedSegment}`;
  return url.toString();
}

/** The user name in a URL, or `fallback` when it has none. */
export function urlUser(raw: string, fallback: string): string {
  return decodeURIComponent(new URL(raw).username) || fallback;
}
