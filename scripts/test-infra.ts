/**
 * Run by `npm test` before the tests: when they will use this machine's servers, makes sure
 * RabbitMQ's management API answers (tests make a vhost each through it), enabling the plugin on
 * a local broker, and otherwise stops the run at once with the one-line fix.
 */
import {
  ensureManagementPlugin,
  externalUrls,
  infraMode,
  localManagementPluginDeps,
} from '@psc/testing';

const mode = await infraMode();
if (mode.mode === 'external') {
  const { amqpUrl, managementUrl } = externalUrls();
  try {
    await ensureManagementPlugin(localManagementPluginDeps(amqpUrl, managementUrl));
  } catch (err) {
    process.stderr.write(`psc test: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
