import type { Command } from 'commander';
import { createApi, DEFAULT_TIMEOUT_MS, type Api } from './api.ts';
import { resolveConnection } from './config.ts';
import { Output } from './output.ts';

/** The options every command accepts (declared once on the program). */
interface GlobalOptions {
  json?: boolean;
  url?: string;
  apiKey?: string;
  /** Seconds one request may take (`--request-timeout`). */
  requestTimeout?: number;
}

export interface Context {
  globals: GlobalOptions;
  out: Output;
  env: NodeJS.ProcessEnv;
  /**
   * The gateway client; resolving it is what fails when nothing is configured. `timeoutMs` is
   * the command's own default for routes that may take longer (`--request-timeout` wins).
   */
  api(options?: { timeoutMs?: number }): Api;
}

function contextOf(command: Command, env: NodeJS.ProcessEnv): Context {
  const globals = command.optsWithGlobals<GlobalOptions>();
  let api: Api | undefined;
  return {
    globals,
    out: new Output(globals.json === true),
    env,
    api(options = {}) {
      if (!api) {
        const { url, apiKey } = resolveConnection(globals, env);
        const timeoutMs =
          globals.requestTimeout === undefined
            ? (options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
            : globals.requestTimeout * 1000;
        api = createApi(url, apiKey, timeoutMs);
      }
      return api;
    },
  };
}

/** Wraps an action: the context first, then commander's arguments without the trailing Command. */
export function action<A extends unknown[]>(
  env: NodeJS.ProcessEnv,
  fn: (ctx: Context, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await fn(contextOf(command, env), ...(args.slice(0, -1) as A));
  };
}
