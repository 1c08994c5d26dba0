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
