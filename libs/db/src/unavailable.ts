/** Node socket errors of a database connection that is gone or cannot be made. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * PostgreSQL errors that say the server is away or overloaded, not that a statement is wrong:
 * class 08 (connection exception), 57P01–57P03 (shut down, crashed, starting), 53300 (too many
 * connections), 40001/40P01 (serialisation failure, deadlock: try again), 55P03 (a lock held
 * elsewhere, e.g. by a frozen worker's transaction, past `lock_timeout`: try again later).
 */
function isServerUnavailable(code: string): boolean {
  return (
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300' ||
    code === '40001' ||
    code === '40P01' ||
    code === '55P03'
  );
}

/**
 * Whether an error means the database cannot be used right now (and trying the same work again
 * later may succeed), rather than that the work itself is wrong. Consumers hold messages on such
 * errors instead of spending their attempts or dead-lettering them.
 */
export function isUnavailableError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown };
  if (e.name === 'KnexTimeoutError') return true;
  const code = typeof e.code === 'string' ? e.code : '';
  if (SOCKET_CODES.has(code) || isServerUnavailable(code)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isUnavailableError)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  // pg's own words when the server goes away under a query or a checkout
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    message,
  );
}
