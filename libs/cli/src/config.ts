import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from './errors.ts';

/** Where `psc login` keeps the gateway's address and key. */
export interface StoredConfig {
  url: string;
  apiKey: string;
}

export interface Connection extends StoredConfig {
  /** Where the values came from, for messages. */
  source: 'flags' | 'environment' | 'config file';
}

/** `$XDG_CONFIG_HOME/psc/config.json`, `~/.config/psc/config.json` without it. */
export function configPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'psc', 'config.json');
}

function readConfig(path: string): Partial<StoredConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredConfig>;
    return {
      ...(typeof parsed.url === 'string' ? { url: parsed.url } : {}),
      ...(typeof parsed.apiKey === 'string' ? { apiKey: parsed.apiKey } : {}),
    };
  } catch {
    throw new CliError(`${path} is not valid JSON`, {
      exitCode: EXIT.usage,
      hint: 'Run `psc login` again to rewrite it.',
    });
  }
}

/** Written readable by its owner only: the file holds an API key. */
export function writeConfig(path: string, config: StoredConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The mode of writeFileSync applies only when it creates the file.
  chmodSync(path, 0o600);
}

/**
 * The gateway and key to use: flags, then PSC_URL / PSC_API_KEY, then the config file, each
 * value on its own (a PSC_API_KEY in the environment overrides the stored key only).
 */
export function resolveConnection(
  flags: { url?: string | undefined; apiKey?: string | undefined },
  env: NodeJS.ProcessEnv,
  stored: Partial<StoredConfig> = readConfig(configPath(env)),
): Connection {
  const url = flags.url ?? env.PSC_URL ?? stored.url;
  const apiKey = flags.apiKey ?? env.PSC_API_KEY ?? stored.apiKey;
  if (!url || !apiKey) {
    throw new CliError('no gateway or API key configured', {
      exitCode: EXIT.usage,
      hint: 'Run `psc login --url http://127.0.0.1:8080 --api-key <key>`, or set PSC_URL and PSC_API_KEY.',
    });
  }
  const source =
    flags.url || flags.apiKey
      ? 'flags'
      : env.PSC_URL || env.PSC_API_KEY
        ? 'environment'
        : 'config file';
  return { url: gatewayUrl(url), apiKey: headerSafe(apiKey), source };
}

/**
 * The gateway's base address, checked before any request: a typo, another scheme or a login in
 * the URL would otherwise fail as "cannot reach the gateway", and fetch's message for a URL with
 * a password repeats the password.
 */
function gatewayUrl(value: string): string {
  const wrong = (why: string) =>
    new CliError(`the gateway address ${redacted(value)} ${why}`, {
      exitCode: EXIT.usage,
      hint: 'Give the gateway’s address, e.g. --url http://127.0.0.1:8080 (or PSC_URL, or `psc login`).',
    });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw wrong('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw wrong('is not http(s)');
  if (url.username || url.password) throw wrong('carries a login: the API key is the only one');
  if (url.search || url.hash) throw wrong('has a query or fragment');
  // The API's prefix is the client's to add: `…/api/v1` given by habit names the same gateway.
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.origin}${path}`;
}

/** `http://user:secret@host` → `http://user:***@host`, for messages. */
const redacted = (value: string): string => value.replace(/(\/\/[^/:@]*:)[^/@]*@/, '$1***@');

/** An HTTP header carries Latin-1 without control characters; a pasted key may not. */
function headerSafe(apiKey: string): string {
  const key = apiKey.trim();
  if (!key || /[^\x20-\x7e]/.test(key)) {
    throw new CliError('the API key has characters an HTTP header cannot carry', {
      exitCode: EXIT.usage,
      hint: 'Copy the key again (psc_…, printable ASCII only) into --api-key or PSC_API_KEY.',
    });
  }
  return key;
}
