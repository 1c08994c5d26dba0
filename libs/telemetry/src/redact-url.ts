// scheme://user:password@ — the password stops at the last '@' before the path, query or fragment.
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@]*):([^\s/?#]*)@/gi;

/**
 * Masks the password of every URL embedded in `text`:
 * `amqp://user:pass@host` → `amqp://user:***@host`. Text without credentials comes back unchanged.
 */
export function redactUrl(text: string): string {
  return text.replace(CREDENTIALS, '$1$2:***@');
}
