import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Query parameter names that carry credentials in practice (`api_key`, `access_token`, `sig`…). */
const SECRET_NAME =
  /token|secret|passw|pwd|api[-_]?key|apikey|^key$|^sig$|signature|auth|session|credential|private/i;

const secretNames = new Set<string>();

/**
 * Adds a query parameter name whose values never appear in spans, beyond the secret-looking ones
 * every process scrubs: a platform's `auth.type=query` parameter can be named anything.
 */
export function markSecretQueryParam(name: string): void {
  secretNames.add(name.toLowerCase());
}

function isSecret(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // an undecodable name is judged as written
  }
  return SECRET_NAME.test(decoded) || secretNames.has(decoded.toLowerCase());
}

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
const QUERY_PARAM = /(^|[?&])([^=&#\s?]+)=([^&#\s]*)/g;

/**
 * `text` (a URL, a target, a query or an error message quoting one) with the user info of every
 * URL and the value of every secret query parameter replaced by `***`.
 */
export function scrubUrlText(text: string): string {
  if (!text.includes('=') && !text.includes('@')) return text;
  return text
    .replace(USERINFO, '$1***@')
    .replace(QUERY_PARAM, (whole: string, sep: string, name: string) =>
      isSecret(name) ? `${sep}${name}=***` : whole,
    );
}

function scrubbed(value: unknown): unknown {
  if (typeof value === 'string') return scrubUrlText(value);
  if (Array.isArray(value)) {
    return (value as unknown[]).map((v) => (typeof v === 'string' ? scrubUrlText(v) : v));
  }
  return value;
}

/**
 * Scrubs every span as it ends, before any exporter sees it: the http and undici
 * instrumentations record full URLs (`url.full`, `http.url`, `http.target`, `url.query`), and a
 * platform with `auth.type=query` carries its credential there; failed calls also record error
 * messages quoting the URL.
 */
export class ScrubbingSpanProcessor implements SpanProcessor {
  onStart(): void {}

  onEnding(span: Span): void {
    for (const [key, value] of Object.entries(span.attributes)) {
      const clean = scrubbed(value);
      if (clean !== undefined && JSON.stringify(clean) !== JSON.stringify(value)) {
        span.setAttribute(key, clean);
      }
    }
    for (const event of span.events) {
      const attributes = event.attributes;
      if (!attributes) continue;
      for (const [key, value] of Object.entries(attributes)) attributes[key] = scrubbed(value);
    }
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
