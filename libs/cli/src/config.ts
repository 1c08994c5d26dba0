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
  return { url: url.replace(/\/+$/, ''), apiKey, source };
}
