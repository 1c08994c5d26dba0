import type { Command } from 'commander';
import { createApi, type Api } from './api.ts';
import { resolveConnection } from './config.ts';
import { Output } from './output.ts';

/** The options every command accepts (declared once on the program). */
interface GlobalOptions {
  json?: boolean;
  url?: string;
  apiKey?: string;
}

export interface Context {
  globals: GlobalOptions;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The gateway client; resolving it is what fails when nothing is configured. */
  api(): Api;
}

function contextOf(command: Command, env: NodeJS.ProcessEnv): Context {
  const globals = command.optsWithGlobals<GlobalOptions>();
  let api: Api | undefined;
  return {
    globals,
    out: new Output(globals.json === true),
    env,
    api() {
      if (!api) {
        const { url, apiKey } = resolveConnection(globals, env);
        api = createApi(url, apiKey);
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
