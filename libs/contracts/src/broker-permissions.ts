import { RPC_OPERATIONS, rpcRoutingKey } from './rpc.ts';
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
 * exchange; bind a queue) and `read` (consume from a queue; bind from an exchange), and, per
 * topic exchange it publishes to, the routing keys it may use (topic permissions).
 */
export interface BrokerPermissions {
  configure: string;
  write: string;
  read: string;
  topics: { exchange: string; write: string; read: string }[];
}

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

/** The names of a spec's delay queues (one per delay). */
const delayNamesOf = (spec: QueueSpec): string =>
  `${escape(QUEUES.retry(spec.name, 0)).replace(/0ms$/, '')}[0-9]+ms`;

/** A spec's queue and those its failure policy adds (dead letters; one delay queue per delay). */
function declaredNames(spec: QueueSpec): string[] {
  const names = [namesOf(spec)];
  if (spec.failures !== 'none') names.push(escape(QUEUES.deadLetter(spec.name)));
  if (spec.failures === 'retries') names.push(delayNamesOf(spec));
  return names;
}

/**
 * The queues a service may route to through `psc.retry`: those it consumes with a failure
 * policy (a delivery put back at the tail) and their delay queues.
 */
function retryTargets(service: ServiceName): string[] {
  return specs
    .filter((q) => q.consumer === service && q.failures !== 'none')
    .flatMap((q) => (q.failures === 'retries' ? [namesOf(q), delayNamesOf(q)] : [namesOf(q)]));
}

/** The routing keys on `psc.calls` of the operations naming `service` a caller. */
const callsOf = (service: ServiceName): string[] =>
  RPC_OPERATIONS.filter((op) => (op.callers as readonly string[]).includes(service)).map((op) =>
    escape(rpcRoutingKey(op)),
  );

/** Whether the service answers requests (it publishes replies to `psc.replies`). */
const servesRpc = (service: ServiceName): boolean =>
  specs.some(
    (q) => q.consumer === service && q.bindings.some((b) => b.exchange === EXCHANGES.calls),
  );

/**
 * The least a service's broker user needs, derived from the topology table and the operations'
 * callers: it declares the queues the table lists it as declaring (not the shared exchanges and
 * queue, which the provisioning step makes and a service only looks for), binds and consumes its
 * own queues, publishes the messages the table names it a producer of, sends the operations
 * naming it a caller (`psc.calls`) and reads their replies in reply queues of its own, answers
 * requests (`psc.replies`), puts its own deliveries back or into its own delay queues
 * (`psc.retry`), and parks what it cannot read. No service may publish to the default exchange,
 * which reaches any queue by name.
 */
export function brokerPermissions(service: ServiceName): BrokerPermissions {
  const declared = specs.filter((q) => q.declaredBy.includes(service) && !q.shared);
  const consumed = specs.filter((q) => q.consumer === service);
  const routes = MESSAGE_ROUTES.filter((r) => r.producers.includes(service));
  const calls = callsOf(service);
  const retries = retryTargets(service);
  // The keeper declares, binds and consumes every dead-letter queue.
  const keeps =
    service === DEAD_LETTER_KEEPER
      ? DEAD_LETTER_SOURCES.map((q) => escape(QUEUES.deadLetter(q.name)))
      : [];
  // Its own reply queues, while it calls anything.
  const replyQueues = calls.length > 0 ? [`${escape(QUEUES.replies(service))}\\..+`] : [];
  // Its own queues and those it declares with them: the names it configures, binds and reads
  // (declaring a queue with a dead-letter exchange is a read on the queue).
  const queues = [...declared.flatMap(declaredNames), ...keeps, ...replyQueues];
  const deadLetters = keeps.length > 0 || declared.some((q) => q.failures !== 'none');
  const alternates = EXCHANGE_SPECS.filter((e) => e.alternateExchange !== undefined);
  const boundFrom = [
    // Unbinding (an earlier version's bindings) is a read on the exchange too.
    ...declared.flatMap((q) =>
      [...q.bindings, ...(q.retiredBindings ?? [])].map((b) => b.exchange),
    ),
    // Every queue with a failure policy is bound from `psc.retry` by its name (topology.ts).
    ...(retries.length > 0 || declared.some((q) => q.failures !== 'none') ? [EXCHANGES.retry] : []),
    ...(replyQueues.length > 0 ? [EXCHANGES.replies] : []),
  ];
  const keysOn = (exchange: string) =>
    routes
      .filter((r) => r.exchange === exchange)
      .flatMap((r) => r.keys ?? [r.message.type])
      .map(escape);
  const topics = [
    { exchange: EXCHANGES.events, write: keysOn(EXCHANGES.events) },
    { exchange: EXCHANGES.jobs, write: keysOn(EXCHANGES.jobs) },
    { exchange: EXCHANGES.calls, write: calls },
    { exchange: EXCHANGES.retry, write: retries },
  ]
    // No entry where it may not publish at all: the exchange's write permission refuses it.
    .filter((t) => t.write.length > 0)
    .map((t) => ({ exchange: t.exchange, write: anyOf(t.write), read: '.*' }));
  return {
    // No exchange: nothing a service's login could delete (the provisioning step makes them).
    configure: anyOf(queues),
    write: anyOf([
      ...topics.map((t) => escape(t.exchange)),
      ...routes.map((r) => escape(r.exchange)),
      ...(servesRpc(service) ? [escape(EXCHANGES.replies)] : []),
      // Where an unroutable mandatory publish goes instead.
      ...alternates.map((e) => escape(e.alternateExchange!)),
      // Parking a message, and declaring a queue that dead-letters (a write on the exchange).
      ...(deadLetters ? [escape(EXCHANGES.deadLetter)] : []),
      // Binding a queue is a write on the queue.
      ...queues,
    ]),
    read: anyOf([
      ...consumed.map(namesOf),
      ...queues,
      // Binding from an exchange is a read on it.
      ...boundFrom.map(escape),
      ...(deadLetters ? [escape(EXCHANGES.deadLetter)] : []),
    ]),
    topics,
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
