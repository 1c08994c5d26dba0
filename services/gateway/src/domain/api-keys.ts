import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createEnvelope, type Outbox, type OutboxMessage } from '@psc/messaging';
import { EXCHANGES, apiKeyRevoked, type ApiKeyView, type ApiRole } from '@psc/contracts';
import { NotFoundError, type Clock } from '@psc/core';
import type { ApiKeyRepository } from '../data-access/api-key.repository.ts';
import type { AuditRepository } from '../data-access/audit.repository.ts';
import type { KeyDirectory } from './key-directory.ts';

/** Runs work in one transaction whose emitted messages commit with it (the gateway's outbox). */
export type Transact = Outbox['transaction'];

/** What tells every gateway replica that a key no longer works. */
const revokedEvent = (keyId: string, at: Date): OutboxMessage => ({
  exchange: EXCHANGES.events,
  routingKey: apiKeyRevoked.type,
  envelope: createEnvelope(apiKeyRevoked, { keyId, revokedAt: at.toISOString() }, { now: at }),
});

/** SHA-256 hex: keys carry 256 random bits, so a slow password hash buys nothing. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** `psc_` + 43 base64url characters (32 random bytes). */
const generateApiKey = (): string => `psc_${randomBytes(32).toString('base64url')}`;

const prefixOf = (key: string): string => key.slice(0, 10);

export function createApiKeyService(deps: {
  transact: Transact;
  keys: ApiKeyRepository;
  audit: AuditRepository;
  directory: KeyDirectory;
  clock: Clock;
}) {
  const { transact, keys, audit, directory, clock } = deps;
  return {
    /** Stores the hash only; the key is in this answer and nowhere else. */
    async create(actorKeyId: string, input: { name: string; role: ApiRole }) {
      const key = generateApiKey();
      const at = clock.now();
      const view = await transact(async (trx) => {
        const created = await keys.insert(trx, {
          id: randomUUID(),
          name: input.name,
          role: input.role,
          keyHash: hashApiKey(key),
          prefix: prefixOf(key),
          createdBy: actorKeyId,
          createdAt: at,
        });
        await audit.record(
          {
            at,
            actorKeyId,
            action: 'api-key.created',
            targetType: 'api-key',
            targetId: created.id,
            details: { name: input.name, role: input.role },
          },
          trx,
        );
        return created;
      });
      return { ...view, key };
    },

    async revoke(actorKeyId: string, id: string): Promise<ApiKeyView> {
      const at = clock.now();
      const view = await transact(async (trx, emit) => {
        const revoked = await keys.revoke(trx, id, at);
        if (!revoked) throw new NotFoundError(`api key ${id} not found`);
        emit(revokedEvent(id, at));
        await audit.record(
          {
            at,
            actorKeyId,
            action: 'api-key.revoked',
            targetType: 'api-key',
            targetId: id,
            details: { name: revoked.name, role: revoked.role },
          },
          trx,
        );
        return revoked;
      });
      // This replica stops the key at once; the others when the event reaches them.
      directory.revoke(id);
      return view;
    },

    /**
     * PSC_ADMIN_API_KEY becomes the bootstrap admin key; a replaced one is revoked. A key that
     * was revoked stays revoked when it is given again (whoever revoked it meant it): the answer
     * says so, for the composition root to warn that only a new value makes a bootstrap key.
     */
    async ensureBootstrap(key: string): Promise<{ usable: boolean }> {
      const at = clock.now();
      const { revoked, itselfRevoked } = await transact(async (trx, emit) => {
        const found = await keys.ensureBootstrap(
          trx,
          {
            id: randomUUID(),
            name: 'bootstrap admin (PSC_ADMIN_API_KEY)',
            role: 'admin',
            keyHash: hashApiKey(key),
            prefix: prefixOf(key),
            createdBy: null,
            createdAt: at,
          },
          at,
        );
        for (const id of found.revoked) emit(revokedEvent(id, at));
        return found;
      });
      for (const id of revoked) directory.revoke(id);
      return { usable: !itselfRevoked };
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
