import {
  brokerPermissions,
  EXCHANGE_SPECS,
  managementTags,
  QUEUE_SPECS,
  type QueueSpec,
  type ServiceName,
} from '@psc/contracts';

export interface BrokerUser {
  service: ServiceName;
  user: string;
  password: string;
}

export interface BrokerUsersOptions {
  /** RabbitMQ's management API, with an administrator's credentials in the URL. */
  managementUrl: string;
  vhost: string;
  users: readonly BrokerUser[];
  timeoutMs?: number;
}

/** A management API call; fetch refuses credentials in the URL, so they become Basic auth. */
function managementCall(managementUrl: string, timeoutMs: number) {
  const url = new URL(managementUrl);
  const authorization = `Basic ${Buffer.from(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  ).toString('base64')}`;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return async (method: string, path: string, body?: unknown, ok = [200, 201, 204]) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!ok.includes(res.status)) {
      throw new Error(
        `RabbitMQ management ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`,
      );
    }
  };
}

/**
 * What every service shares and none of their users may configure: the exchanges and the queue
 * of unrouted events, with its binding, declared as the services would declare them (they only
 * look for them: libs/messaging topology.ts). Declaring what exists the same way is a no-op.
 */
async function declareShared(
  call: ReturnType<typeof managementCall>,
  vhost: string,
): Promise<void> {
  for (const e of EXCHANGE_SPECS) {
    await call('PUT', `/api/exchanges/${vhost}/${encodeURIComponent(e.name)}`, {
      type: e.type,
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: e.alternateExchange ? { 'alternate-exchange': e.alternateExchange } : {},
    });
  }
  const shared = Object.values(QUEUE_SPECS as Record<string, QueueSpec>).filter((q) => q.shared);
  for (const q of shared) {
    const name = encodeURIComponent(q.name);
    await call('PUT', `/api/queues/${vhost}/${name}`, {
      durable: q.durable,
      auto_delete: false,
      arguments: q.maxLength === undefined ? {} : { 'x-max-length': q.maxLength },
    });
    for (const b of q.bindings) {
      await call('POST', `/api/bindings/${vhost}/e/${encodeURIComponent(b.exchange)}/q/${name}`, {
        routing_key: b.routingKey,
      });
    }
  }
}

/**
 * Declares what the services share ({@link declareShared}), then creates (or updates) one
 * RabbitMQ user per service with the least permissions the topology table gives it on `vhost`
 * ({@link brokerPermissions}), and the management API tags of {@link managementTags} (only the
 * gateway's user may read it). Idempotent: running it again resets passwords and permissions.
 */
export async function provisionBrokerUsers(options: BrokerUsersOptions): Promise<void> {
  const call = managementCall(options.managementUrl, options.timeoutMs ?? 10_000);
  const vhost = encodeURIComponent(options.vhost);
  await declareShared(call, vhost);
  for (const { service, user, password } of options.users) {
    const name = encodeURIComponent(user);
    const permissions = brokerPermissions(service);
    await call('PUT', `/api/users/${name}`, { password, tags: managementTags(service) });
    await call('PUT', `/api/permissions/${vhost}/${name}`, {
      configure: permissions.configure,
      write: permissions.write,
      read: permissions.read,
    });
    // One entry per topic exchange; an earlier run's entries go first (an exchange this
    // version no longer lets it publish to must not keep its old keys).
    await call('DELETE', `/api/topic-permissions/${vhost}/${name}`, undefined, [204, 404]);
    for (const topic of permissions.topics) {
      await call('PUT', `/api/topic-permissions/${vhost}/${name}`, topic);
    }
  }
}

/** Deletes the users (a missing one is no error). */
export async function removeBrokerUsers(
  options: Omit<BrokerUsersOptions, 'users' | 'vhost'> & { users: readonly { user: string }[] },
): Promise<void> {
  const call = managementCall(options.managementUrl, options.timeoutMs ?? 10_000);
  for (const { user } of options.users) {
    await call('DELETE', `/api/users/${encodeURIComponent(user)}`, undefined, [204, 404]);
  }
}
