import { ConfigError } from '@psc/core';

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@]*):([^\s/?#]*)@/gi;

interface ErrorFields {
  code?: unknown;
  message?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  name?: unknown;
  errors?: unknown;
}

function fieldsOf(err: unknown): ErrorFields {
  return err !== null && typeof err === 'object' ? err : {};
}

/** Node's happy-eyeballs connect reports an AggregateError whose first entry says where. */
function primary(err: unknown): ErrorFields {
  const fields = fieldsOf(err);
  if (Array.isArray(fields.errors) && fields.errors.length > 0) {
    return { ...fieldsOf(fields.errors[0]), code: fields.code ?? fieldsOf(fields.errors[0]).code };
  }
  return fields;
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function describe(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  const e = primary(err);
  const code = text(e.code);
  const message = text(e.message);
  const where = e.address ? `${text(e.address)}${e.port ? `:${text(e.port)}` : ''}` : '';
  switch (code) {
    case 'ERR_INVALID_URL':
      return 'database URL is not a valid URL';
    case 'ECONNREFUSED':
      return `database connection refused${where ? ` at ${where}` : ''} (ECONNREFUSED)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `database host not found${e.hostname ? `: ${text(e.hostname)}` : ''} (${code})`;
    case 'ETIMEDOUT':
      return `database connection timed out${where ? ` at ${where}` : ''} (ETIMEDOUT)`;
    case 'ECONNRESET':
      return 'database closed the connection (ECONNRESET)';
    case '28P01':
      return `database authentication failed: ${message} (28P01)`;
    case '28000':
      return `database rejected the connection: ${message} (28000)`;
    case '3D000':
      return `${message} (3D000)`;
    case '57P03':
      return 'database is starting up or shutting down (57P03)';
    case '53300':
      return 'database has too many connections (53300)';
  }
  if (e.name === 'KnexTimeoutError') return 'timed out waiting for a database connection';
  if (/^[0-9A-Z]{5}$/.test(code)) return `database error ${code}: ${message}`;
  return `database error: ${message || String(err)}`;
}

/**
 * Turns a connection failure (refused, unknown host, bad password, missing database, malformed
 * URL…) into one short line for a start-up or CLI error, with any URL password masked.
 */
export function describeDbError(err: unknown): string {
  const line = describe(err).split('\n', 1)[0] ?? '';
  return line.replace(URL_CREDENTIALS, '$1$2:***@');
}
