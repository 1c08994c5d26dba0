import { EXCHANGES, QUEUES, SERVICES, type ServiceName } from './topology.ts';
import {
  DEAD_LETTER_KEEPER,
  DEAD_LETTER_SOURCES,
  EXCHANGE_SPECS,
  MESSAGE_ROUTES,
  QUEUE_SPECS,
  type QueueSpec,
} from './topology-table.ts';

/**
 * What one service's RabbitMQ user may do on psc's vhost, in RabbitMQ's terms: regular
 * expressions over resource names for `configure` (declare, delete), `write` (publish to an
 * exchange; bind a queue) and `read` (consume from a queue; bind from an exchange), and, on the
 * topic exchange of events, the routing keys (event types) it may publish.
 */
export interface BrokerPermissions {
  configure: string;
  write: string;
  read: string;
  topic: { exchange: string; write: string; read: string };
}

/** RabbitMQ's name for the default exchange (publishing to `''`). */
const DEFAULT_EXCHANGE = 'amq.default';
/** The pseudo-queue of direct reply-to, where RPC callers read their replies. */
const REPLY_TO = 'amq.rabbitmq.reply-to';

const escape = (name: string): string => name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
const anyOf = (patterns: Iterable<string>): string => {
  const list = [...new Set(patterns)].sort();
  // RabbitMQ reads an empty string as "nothing"; `^$` would still match the default exchange.
  return list.length === 0 ? '' : `^(${list.join('|')})$`;
};

const specs = Object.values(QUEUE_SPECS as Record<string, QueueSpec>);

/** The queue names a spec stands for: one, or one per replica. */
const namesOf = (spec: QueueSpec): string =>
  spec.perReplica ? `${escape(spec.name)}\\..+` : escape(spec.name);

/** A spec's queue and those its failure policy adds (dead letters; one delay queue per delay). */
function declaredNames(spec: QueueSpec): string[] {
  const names = [namesOf(spec)];
  if (spec.failures !== 'none') names.push(escape(QUEUES.deadLetter(spec.name)));
  if (spec.failures === 'retries')
    names.push(`${escape(QUEUES.retry(spec.name, 0)).replace(/0ms$/, '')}[0-9]+ms`);
  return names;
}

/** Whether any queue the service consumes can send a failed message back through a delay queue. */
const retriesIn = (service: ServiceName): boolean =>
  specs.some((q) => q.consumer === service && q.failures === 'retries');
/** Whether the service answers requests (its replies go to the caller by the default exchange). */
const servesRpc = (service: ServiceName): boolean =>
  specs.some((q) => q.consumer === service && q.bindings.some((b) => b.exchange === EXCHANGES.rpc));

/**
 * The least a service's broker user needs, derived from the topology table: it declares the
 * queues the table lists it as declaring (not the shared exchanges and queue, which the
 * provisioning step makes and a service only looks for), binds and consumes its own queues,
 * publishes the messages the table names it a producer of, calls any service's operations
 * (`psc.rpc`; each operation checks its own input), and parks what it cannot read. A service that
 * answers requests or retries messages also publishes to the default exchange, which reaches any
 * queue by name: only the gateway, which does neither, is held to the routes above.
 */
export function brokerPermissions(service: ServiceName): BrokerPermissions {
  const declared = specs.filter((q) => q.declaredBy.includes(service) && !q.shared);
  const consumed = specs.filter((q) => q.consumer === service);
  const routes = MESSAGE_ROUTES.filter((r) => r.producers.includes(service));
  // The keeper declares, binds and consumes every dead-letter queue.
  const keeps =
    service === DEAD_LETTER_KEEPER
      ? DEAD_LETTER_SOURCES.map((q) => escape(QUEUES.deadLetter(q.name)))
      : [];
  // Its own queues and those it declares with them: the names it configures, binds and reads
  // (declaring a queue with a dead-letter exchange is a read on the queue).
  const queues = [...declared.flatMap(declaredNames), ...keeps];
  const deadLetters = keeps.length > 0 || declared.some((q) => q.failures !== 'none');
  // Replies go to the caller by the default exchange, and delay queues expire back by it.
  const viaDefault =
    servesRpc(service) || retriesIn(service) || declared.some((q) => q.failures === 'retries');
  const alternates = EXCHANGE_SPECS.filter((e) => e.alternateExchange !== undefined);
  const boundFrom = declared.flatMap((q) => q.bindings.map((b) => b.exchange));
  const eventTypes = routes
    .filter((r) => r.exchange === EXCHANGES.events)
    .map((r) => escape(r.message.type));
  return {
    // No exchange: nothing a service's login could delete (the provisioning step makes them).
    configure: anyOf(queues),
    write: anyOf([
      ...routes.map((r) => escape(r.exchange)),
      escape(EXCHANGES.rpc),
      // Where an unroutable mandatory publish goes instead.
      ...alternates.map((e) => escape(e.alternateExchange!)),
      // Parking a message, and declaring a queue that dead-letters (a write on the exchange).
      ...(deadLetters ? [escape(EXCHANGES.deadLetter)] : []),
      ...(viaDefault ? [escape(DEFAULT_EXCHANGE)] : []),
      // Binding a queue is a write on the queue.
      ...queues,
    ]),
    read: anyOf([
      ...consumed.map(namesOf),
      ...queues,
      escape(REPLY_TO),
      // Binding from an exchange is a read on it.
      ...boundFrom.map(escape),
      ...(deadLetters ? [escape(EXCHANGES.deadLetter)] : []),
    ]),
    topic: { exchange: EXCHANGES.events, write: anyOf(eventTypes), read: '.*' },
  };
}

/**
 * The management API tags of a service's user. Only the gateway reads the management API (queue
 * depths and rates for `GET /api/v1/monitoring/queues` and `psc_queue_messages`); `management`
 * lets it read the vhosts it has permissions on, so it needs no administrator's login for that,
 * and grants nothing it could not do over AMQP. The others get none: they cannot log in there.
 */
export const managementTags = (service: ServiceName): string =>
  service === 'gateway' ? 'management' : '';

/** Every service's broker user name on a deployment, `<prefix><service>`. */
export const brokerUsers = (prefix = 'psc-'): { service: ServiceName; user: string }[] =>
  SERVICES.map((service) => ({ service, user: `${prefix}${service}` }));
