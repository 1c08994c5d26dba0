import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** One worker's breaker for one platform. */
export const breakerView = z.object({
  platformId: z.uuid(),
  workerId: z.string(),
  state: z.enum(BREAKER_STATES),
  changedAt: z.iso.datetime(),
});

export const breakerStateChanged = defineMessage(
  'breaker.state-changed',
  1,
  z.object({
    platformId: z.uuid(),
    workerId: z.string(),
    state: z.enum(BREAKER_STATES),
    at: z.iso.datetime(),
  }),
);

export const breakerList = defineRpc(
  'sync-worker',
  'breaker.list',
  z.object({ platformId: z.uuid().optional() }),
  z.object({ items: z.array(breakerView) }),
);
/** Closes the platform's breaker on every worker (each picks it up on its next call). */
export const breakerReset = defineRpc(
  'sync-worker',
  'breaker.reset',
  z.object({ platformId: z.uuid() }),
  z.object({ platformId: z.uuid(), resetAt: z.iso.datetime() }),
);
