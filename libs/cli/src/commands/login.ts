import type { Command } from 'commander';
import { call, createApi, DEFAULT_TIMEOUT_MS } from '../api.ts';
import { configPath, resolveConnection, writeConfig } from '../config.ts';
import { action } from '../context.ts';

export function loginCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('login')
    .description(
      'check a gateway address and API key, then keep them for later commands ($XDG_CONFIG_HOME/psc/config.json, mode 0600)',
    )
    .addHelpText(
      'after',
      '\nThe address and key come from --url/--api-key, else PSC_URL/PSC_API_KEY.\nExample: psc login --url http://127.0.0.1:8080 --api-key psc_…',
    )
    .action(
      action(env, async (ctx) => {
        const globals = ctx.globals;
        // Checked before it is written: a wrong key is refused now, not at the next command.
        const { url, apiKey } = resolveConnection(globals, env, {});
        const api = createApi(
          url,
          apiKey,
          globals.requestTimeout === undefined ? DEFAULT_TIMEOUT_MS : globals.requestTimeout * 1000,
        );
        // The key's own id and role: which commands it may run (viewer < operator < admin).
        const me = await call(api, api.client.GET('/api/v1/me'));
        const path = configPath(env);
        writeConfig(path, { url, apiKey });
        ctx.out.result({ url, configFile: path, keyId: me.keyId, role: me.role }, () => {
          ctx.out.success(`Logged in to ${url} as key ${me.keyId} (${me.role}); kept in ${path}.`);
        });
      }),
    );
}
