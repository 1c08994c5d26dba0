/**
 * Creates one RabbitMQ user per psc service on a vhost, each with the least permissions the
 * topology table gives it (libs/contracts broker-permissions.ts), and prints each service's
 * AMQP_URL. Run it again to reset passwords and permissions after an upgrade; `--remove` deletes
 * the users.
 *
 *   RABBITMQ_MANAGEMENT_URL=http://admin:…@127.0.0.1:15672 AMQP_URL=amqp://127.0.0.1:5672/psc \
 *     npm run broker-users [-- --prefix psc- --remove]
 *
 * A service's password is PSC_BROKER_PASSWORD_<SERVICE> (e.g. PSC_BROKER_PASSWORD_SYNC_WORKER)
 * when set, else a new random one, printed once in its AMQP_URL (scripts/login-passwords.ts);
 * `--require-passwords` (the image's SERVICE=provision) makes a missing one an error.
 */
import { parseArgs } from 'node:util';
import { brokerUsers } from '@psc/contracts';
import { provisionBrokerUsers, removeBrokerUsers } from '@psc/messaging';
import { loginPasswords, loginUrl } from './login-passwords.ts';

const { values } = parseArgs({
  options: {
    prefix: { type: 'string', default: 'psc-' },
    remove: { type: 'boolean', default: false },
    'require-passwords': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run broker-users [-- --prefix psc- --remove --require-passwords]   (RABBITMQ_MANAGEMENT_URL, AMQP_URL, PSC_BROKER_PASSWORD_<SERVICE>)',
  );
  process.exit(0);
}

const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL;
const amqpUrl = process.env.AMQP_URL;
if (!managementUrl || !amqpUrl) {
  console.error(
    'broker-users: set RABBITMQ_MANAGEMENT_URL (an administrator of the broker) and AMQP_URL (the broker and vhost the services use)',
  );
  process.exit(2);
}
const base = new URL(amqpUrl);
const vhost = decodeURIComponent(base.pathname.replace(/^\//, '')) || '/';
const named = brokerUsers(values.prefix);
const passwords = values.remove
  ? []
  : loginPasswords(
      'BROKER',
      named.map((u) => u.service),
      values['require-passwords'],
    );
const users = named.map((u, i) => ({ ...u, password: passwords[i]?.password ?? '' }));

try {
  if (values.remove) {
    await removeBrokerUsers({ managementUrl, users });
    console.log(`removed ${users.map((u) => u.user).join(', ')}`);
  } else {
    await provisionBrokerUsers({ managementUrl, vhost, users });
    users.forEach((u, i) =>
      console.log(`${u.service}\tAMQP_URL=${loginUrl(base.toString(), u.user, passwords[i]!)}`),
    );
  }
} catch (err) {
  // One line: the management API's errors name the method, path and status or why it did not
  // answer, never the password.
  console.error(`broker-users failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
