import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** The services that call platforms, each replica with a breaker per platform. */
export const PLATFORM_CALLERS = ['sync-worker', 'collector'] as const;
export type PlatformCaller = (typeof PLATFORM_CALLERS)[number];

/** One worker's breaker for one platform. */
export const breakerView = z.object({
  platformId: z.uuid(),
  service: z.enum(PLATFORM_CALLERS),
  workerId: z.string(),
  state: z.enum(BREAKER_STATES),
  changedAt: z.iso.datetime(),
});
export type BreakerView = z.infer<typeof breakerView>;

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

const listRequest = z.object({ platformId: z.uuid().optional() });
const listResponse = z.object({ items: z.array(breakerView) });
const resetRequest = z.object({ platformId: z.uuid() });
const resetResponse = z.object({ platformId: z.uuid(), resetAt: z.iso.datetime() });

/** Each platform-calling service answers for its own replicas' breakers. */
export const breakerList = {
  'sync-worker': defineRpc('sync-worker', 'breaker.list', listRequest, listResponse),
  collector: defineRpc('collector', 'breaker.list', listRequest, listResponse),
} as const;
/** Closes the platform's breaker on every replica of the service (each on its next call). */
export const breakerReset = {
  'sync-worker': defineRpc('sync-worker', 'breaker.reset', resetRequest, resetResponse),
  collector: defineRpc('collector', 'breaker.reset', resetRequest, resetResponse),
} as const;
