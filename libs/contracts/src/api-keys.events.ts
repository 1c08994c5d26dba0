import { z } from 'zod';
import { defineMessage } from './envelope.ts';

/**
 * An API key was revoked. Every gateway replica serves key checks from memory and drops the key
 * when this arrives; the replica that revoked it has already dropped it.
 */
export const apiKeyRevoked = defineMessage(
  'api-key.revoked',
  1,
  z.object({ keyId: z.uuid(), revokedAt: z.iso.datetime() }),
);

/**
 * Each gateway replica's own queue for key events is this prefix plus its replica id
 * (non-durable, auto-delete: a replica that is gone needs no events, and one that reconnects
 * reloads every key); poison goes to the shared `<prefix>.dead-letter`.
 */
export const GATEWAY_KEY_EVENTS_QUEUE = 'gateway.api-key-events';
