import { REDACTED } from '@psc/contracts';
import { scrubUrlText } from '@psc/telemetry';

/**
 * Names whose values are credentials. Broad on purpose: a dead letter is shown to every viewer,
 * and a value hidden by mistake costs less than a token shown by mistake.
 */
const SECRET_NAME =
  /token|secret|passw|pwd|api[-_]?key|apikey|^key$|^sig$|signature|auth|cookie|session|credential|private/i;

/** Past this depth a value is not walked but hidden: nothing deeper can leak. */
const MAX_DEPTH = 32;

/** A JSON `"name": value` pair, the value possibly cut off at the end of the text. */
const JSON_PAIR = /("((?:[^"\\]|\\.)*)"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^\s,{}[\]"]+)/g;
/** `Bearer abc…`, `Basic dXNl…`: an HTTP credential quoted in a header value or a text. */
const SCHEME_CREDENTIAL = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;

const isSecretName = (name: string): boolean => SECRET_NAME.test(name);

/**
 * `text` with secrets masked where its form shows them: values of secret-named JSON fields (the
 * text may be cut JSON), HTTP credentials, passwords in URLs and secret query parameters.
 */
export function redactText(text: string): string {
  return scrubUrlText(
    text
      .replace(JSON_PAIR, (pair: string, head: string, name: string) =>
        isSecretName(name) ? `${head}"${REDACTED}"` : pair,
      )
      .replace(SCHEME_CREDENTIAL, `$1 ${REDACTED}`),
  );
}

/** A copy of `value` (JSON) with every secret-named field's value and every secret in a text masked. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([name, v]) => [
      name,
      isSecretName(name) && v !== null && v !== '' ? REDACTED : redactSecrets(v, depth + 1),
    ]),
  );
}
