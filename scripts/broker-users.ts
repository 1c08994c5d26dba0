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
 * when set, else a new random one, printed once in its AMQP_URL.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { brokerUsers } from '@psc/contracts';
import { provisionBrokerUsers, removeBrokerUsers } from '@psc/messaging';

const { values } = parseArgs({
  options: {
    prefix: { type: 'string', default: 'psc-' },
    remove: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run broker-users [-- --prefix psc- --remove]   (RABBITMQ_MANAGEMENT_URL, AMQP_URL, PSC_BROKER_PASSWORD_<SERVICE>)',
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
const envName = (service: string) =>
  `PSC_BROKER_PASSWORD_${service.toUpperCase().replace(/-/g, '_')}`;

const users = brokerUsers(values.prefix).map((u) => ({
  ...u,
  password: process.env[envName(u.service)] || randomBytes(24).toString('base64url'),
}));

if (values.remove) {
  await removeBrokerUsers({ managementUrl, users });
  console.log(`removed ${users.map((u) => u.user).join(', ')}`);
} else {
  await provisionBrokerUsers({ managementUrl, vhost, users });
  for (const u of users) {
    const url = new URL(base);
    url.username = encodeURIComponent(u.user);
    url.password = encodeURIComponent(u.password);
    console.log(`${u.service}\tAMQP_URL=${url.toString()}`);
  }
}
