import { execFile } from 'node:child_process';
import { createManagementApi } from '@psc/messaging';
import { redactUrl } from './urls.ts';
import { waitFor } from './wait-for.ts';

/** The one command that turns the plugin on, as a reader would type it. */
export const ENABLE_COMMAND = ['rabbitmq-plugins', 'enable', 'rabbitmq_management'] as const;
const FIX = `run \`sudo ${ENABLE_COMMAND.join(' ')}\` on the broker's machine`;

export type ManagementPlan =
  { action: 'ready' } | { action: 'enable' } | { action: 'fail'; message: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const isLocal = (url: string): boolean => {
  try {
    return LOOPBACK.has(new URL(url).hostname);
  } catch {
    return false;
  }
};

/**
 * What the test command does about RabbitMQ's management API, which tests use to make a vhost
 * each: nothing when it answers; turn the plugin on when the broker runs on this machine and
 * `rabbitmq-plugins` is here; otherwise fail with the one line that fixes it.
 */
export function planManagementPlugin(input: {
  amqpUrl: string;
  managementUrl: string;
  answers: boolean;
  cliFound: boolean;
}): ManagementPlan {
  if (input.answers) return { action: 'ready' };
  const where = `RabbitMQ's management API at ${redactUrl(input.managementUrl)} (RABBITMQ_MANAGEMENT_URL) does not answer`;
  if (!isLocal(input.amqpUrl) || !isLocal(input.managementUrl)) {
    return { action: 'fail', message: `${where} and the broker is not on this machine: ${FIX}` };
  }
  if (!input.cliFound) {
    return { action: 'fail', message: `${where} and rabbitmq-plugins is not on PATH: ${FIX}` };
  }
  return { action: 'enable' };
}

export interface ManagementPluginDeps {
  amqpUrl: string;
  managementUrl: string;
  /** Does the management API answer now? */
  answers: () => Promise<boolean>;
  /** Is `rabbitmq-plugins` on PATH? */
  cliFound: () => Promise<boolean>;
  /** Runs ENABLE_COMMAND; rejects with its error output when it fails. */
  enable: () => Promise<void>;
  /** One line for the person running the tests. */
  say: (line: string) => void;
  /** How long the API may take to answer once the plugin is on. */
  timeoutMs?: number;
}

/**
 * Makes sure the management API answers before any test needs it, enabling the plugin on a
 * local broker (and saying so on one line). Throws an Error whose message is the one-line fix
 * when it cannot.
 */
export async function ensureManagementPlugin(deps: ManagementPluginDeps): Promise<ManagementPlan> {
  const plan = planManagementPlugin({
    amqpUrl: deps.amqpUrl,
    managementUrl: deps.managementUrl,
    answers: await deps.answers(),
    cliFound: await deps.cliFound(),
  });
  if (plan.action === 'fail') throw new Error(plan.message);
  if (plan.action === 'ready') return plan;
  try {
    await deps.enable();
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
    throw new Error(`could not enable RabbitMQ's management plugin here (${why}): ${FIX}`, {
      cause: err,
    });
  }
  await waitFor(deps.answers, {
    timeoutMs: deps.timeoutMs ?? 60_000,
    intervalMs: 500,
    message: `RabbitMQ's management API at ${redactUrl(deps.managementUrl)} after enabling the plugin`,
  });
  deps.say(
    `psc test: enabled RabbitMQ's management plugin on this machine (${ENABLE_COMMAND.join(' ')}): tests make a vhost each through it`,
  );
  return plan;
}

const run = (file: string, args: readonly string[], timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${stderr.trim() || err.message}`));
      else resolve();
    });
  });

/** The real management API, PATH and `rabbitmq-plugins` behind `ensureManagementPlugin`. */
export function localManagementPluginDeps(
  amqpUrl: string,
  managementUrl: string,
): ManagementPluginDeps {
  return {
    amqpUrl,
    managementUrl,
    answers: () =>
      createManagementApi(managementUrl, { timeoutMs: 3_000 })
        .get('/api/whoami')
        .then(
          () => true,
          () => false,
        ),
    cliFound: () =>
      run('sh', ['-c', `command -v ${ENABLE_COMMAND[0]}`], 5_000).then(
        () => true,
        () => false,
      ),
    enable: () => run(ENABLE_COMMAND[0], ENABLE_COMMAND.slice(1), 120_000),
    say: (line) => process.stdout.write(`${line}\n`),
  };
}
