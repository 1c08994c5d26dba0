import {
  brokerPermissions,
  EXCHANGE_SPECS,
  managementTags,
  QUEUE_SPECS,
  type QueueSpec,
  type ServiceName,
} from '@psc/contracts';
import { createManagementApi, type ManagementApi } from './management-api.ts';

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

/**
 * What every service shares and none of their users may configure: the exchanges and the queue
 * of unrouted events, with its binding, declared as the services would declare them (they only
 * look for them: libs/messaging topology.ts). Declaring what exists the same way is a no-op.
 */
async function declareShared(api: ManagementApi, vhost: string): Promise<void> {
  for (const e of EXCHANGE_SPECS) {
    await api.put(`/api/exchanges/${vhost}/${encodeURIComponent(e.name)}`, {
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
    await api.put(`/api/queues/${vhost}/${name}`, {
      durable: q.durable,
      auto_delete: false,
      arguments: q.maxLength === undefined ? {} : { 'x-max-length': q.maxLength },
    });
    for (const b of q.bindings) {
      await api.post(`/api/bindings/${vhost}/e/${encodeURIComponent(b.exchange)}/q/${name}`, {
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
  const api = createManagementApi(options.managementUrl, { timeoutMs: options.timeoutMs });
  const vhost = encodeURIComponent(options.vhost);
  await declareShared(api, vhost);
  for (const { service, user, password } of options.users) {
    const name = encodeURIComponent(user);
    const permissions = brokerPermissions(service);
    await api.put(`/api/users/${name}`, { password, tags: managementTags(service) });
    await api.put(`/api/permissions/${vhost}/${name}`, {
      configure: permissions.configure,
      write: permissions.write,
      read: permissions.read,
    });
    // One entry per topic exchange; an earlier run's entries go first (an exchange this
    // version no longer lets it publish to must not keep its old keys).
    await api.delete(`/api/topic-permissions/${vhost}/${name}`, { missingOk: true });
    for (const topic of permissions.topics) {
      await api.put(`/api/topic-permissions/${vhost}/${name}`, topic);
    }
  }
}

/** Deletes the users (a missing one is no error). */
export async function removeBrokerUsers(
  options: Omit<BrokerUsersOptions, 'users' | 'vhost'> & { users: readonly { user: string }[] },
): Promise<void> {
  const api = createManagementApi(options.managementUrl, { timeoutMs: options.timeoutMs });
  for (const { user } of options.users) {
    await api.delete(`/api/users/${encodeURIComponent(user)}`, { missingOk: true });
  }
}
