import { QUEUES } from '@psc/contracts';
import { delayLadder } from './jitter.ts';
import { delay } from '@psc/core';
import type { Broker } from './broker.ts';

/**
 * Batch mode (`--until-drained`): resolves once `queues` (and their retry queues) hold no
 * message and `busy()` says nothing is in flight, on `stableChecks` polls in a row, so a message
 * between two queues (a retry about to return, an outbox row) is not mistaken for the end.
 */
export async function waitUntilDrained(options: {
  broker: Broker;
  queues: string[];
  busy: () => boolean | Promise<boolean>;
  /** The delays of the queues' delay queues (the consumer's retry tiers). */
  retryTiersMs: readonly number[];
  pollMs?: number;
  stableChecks?: number;
}): Promise<void> {
  const names = options.queues.flatMap((q) => [
    q,
    ...delayLadder(options.retryTiersMs).map((ms) => QUEUES.retry(q, ms)),
  ]);
  const channel = options.broker.createChannel('drain-check', () => Promise.resolve());
  await channel.waitForConnect();
  let quiet = 0;
  try {
    while (quiet < (options.stableChecks ?? 3)) {
      await delay(options.pollMs ?? 500);
      let waiting = 0;
      for (const name of names) {
        // A retry tier this deployment does not declare counts as empty.
        waiting += await channel.checkQueue(name).then(
          (q) => q.messageCount,
          () => 0,
        );
      }
      quiet = waiting === 0 && !(await options.busy()) ? quiet + 1 : 0;
    }
  } finally {
    await channel.close();
  }
}
