import { startInfra, type Infra } from './infra.ts';
import { VHOST_PREFIX } from './isolation-names.ts';

/** Far above any delivery tag a channel hands out, so no channel ever issued it. */
const UNKNOWN_DELIVERY_TAG = '(1 bsl 62)';
const SAFE_NAME = /^[\w.:-]+$/;

/**
 * Makes RabbitMQ close, from its side, every channel consuming `queue` (or every queue) of one
 * test vhost, with their connections left up: what its consumer timeout does (a channel-level
 * 406 PRECONDITION_FAILED). The management API can close connections only, and RabbitMQ 3.10
 * has no per-queue consumer timeout, so this runs `rabbitmqctl eval` on the broker: each consumer's
 * channel process is handed an ack of a delivery tag it never issued, which the channel refuses
 * by closing itself. Resolves with how many channels it closed. Only `psc-test-*` vhosts.
 */
export async function closeConsumerChannels(
  vhost: string,
  queue?: string,
  infra?: Infra,
): Promise<number> {
  if (!vhost.startsWith(VHOST_PREFIX) || !SAFE_NAME.test(vhost)) {
    throw new Error(`closeConsumerChannels: ${JSON.stringify(vhost)} is not a test vhost`);
  }
  if (queue !== undefined && !SAFE_NAME.test(queue)) {
    throw new Error(`closeConsumerChannels: unexpected queue name ${JSON.stringify(queue)}`);
  }
  const only = queue === undefined ? 'all' : `<<"${queue}">>`;
  // amqqueue:get_name/1 gives #resource{virtual_host, kind, name}: the name is its 4th element.
  const expr = `
    Only = ${only},
    Queues = [Q || Q <- rabbit_amqqueue:list(<<"${vhost}">>),
                   Only =:= all orelse element(4, amqqueue:get_name(Q)) =:= Only],
    Channels = lists:usort([element(1, C) || Q <- Queues, C <- rabbit_amqqueue:consumers(Q)]),
    [rabbit_channel:do(Ch, {'basic.ack', ${UNKNOWN_DELIVERY_TAG}, false}) || Ch <- Channels],
    length(Channels).`;
  const out = await (infra ?? (await startInfra())).rabbitmqctl(['eval', expr]);
  const closed = Number(out.trim());
  if (!Number.isInteger(closed)) throw new Error(`rabbitmqctl eval answered ${out.trim()}`);
  return closed;
}

/**
 * The channel-wide prefetch limit (`basic.qos` with global set; 0 for none) of every channel
 * consuming in one test vhost, read from the channel processes themselves by `rabbitmqctl
 * list_channels` (the management API would show it only after its next statistics interval).
 */
export async function consumingChannelLimits(vhost: string, infra?: Infra): Promise<number[]> {
  if (!vhost.startsWith(VHOST_PREFIX) || !SAFE_NAME.test(vhost)) {
    throw new Error(`consumingChannelLimits: ${JSON.stringify(vhost)} is not a test vhost`);
  }
  const out = await (infra ?? (await startInfra())).rabbitmqctl([
    'list_channels',
    '--quiet',
    '--no-table-headers',
    '-p',
    vhost,
    'consumer_count',
    'global_prefetch_count',
  ]);
  return out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([consumers]) => consumers !== undefined && consumers > 0)
    .map(([, limit]) => limit ?? 0);
}
