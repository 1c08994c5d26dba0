/**
 * Process bootstrap: `node --import @psc/telemetry/register src/main.ts`.
 *
 * Tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Otherwise this module does nothing
 * at all (no loader hook, no SDK), so an untraced process pays nothing.
 */
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { batchOptionsFromEnv } from './batch-options.ts';

const endpoint = process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];

if (endpoint !== undefined && endpoint !== '') {
  // Read first: a bad OTEL_BSP_* value stops the process before anything is patched, with one
  // line naming it, as a service's own config error does (not a stack trace).
  let batch: ReturnType<typeof batchOptionsFromEnv>;
  try {
    batch = batchOptionsFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // The hook must be in place before koa, pg, amqplib… are imported, or ESM modules go unpatched.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  // Dynamic import: nothing instrumentable may load before the hook is registered.
  const { startTelemetry } = await import('./sdk.ts');
  const serviceName = process.env['OTEL_SERVICE_NAME'];
  startTelemetry(serviceName ? { serviceName, batch } : { batch });
  await waitForAllMessagesAcknowledged();
}
