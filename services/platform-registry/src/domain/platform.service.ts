import { randomUUID } from 'node:crypto';
import {
  EXCHANGES,
  platformRegistered,
  type MaskedAuth,
  type Platform,
  type PlatformAuth,
  type PlatformSummary,
  type PlatformWithSecrets,
  type platformInput,
} from '@psc/contracts';
import { ConflictError, NotFoundError, type Clock } from '@psc/core';
import { createEnvelope, type Outbox } from '@psc/messaging';
import type { z } from 'zod';
import type { PlatformRepository } from '../data-access/platform.repository.ts';
import { assertExpressionsCompile, assertUniqueResourceNames } from './platform-rules.ts';

type ParsedInput = z.infer<typeof platformInput>;

export function maskAuth(auth: PlatformAuth): MaskedAuth {
  if (auth.type === 'none') return { type: 'none' };
  return { type: auth.type, ...('name' in auth ? { name: auth.name } : {}), token: '***' };
}

export function masked(p: PlatformWithSecrets): Platform {
  return { ...p, auth: maskAuth(p.auth) };
}

export function summarize(p: PlatformWithSecrets): PlatformSummary {
  return {
    id: p.id,
    name: p.name,
    active: p.active,
    priority: p.priority,
    version: p.version,
    resources: p.resources.map((r) => ({ name: r.name, tasks: r.tasks })),
  };
}

const encodeCursor = (name: string): string => Buffer.from(name).toString('base64url');
const decodeCursor = (cursor: string): string => Buffer.from(cursor, 'base64url').toString();

export function createPlatformService(deps: {
  repository: PlatformRepository;
  outbox: Outbox;
  clock: Clock;
}) {
  const { repository, outbox, clock } = deps;
  return {
    async create(input: ParsedInput, correlationId?: string): Promise<Platform> {
      assertUniqueResourceNames(input);
      assertExpressionsCompile(input);
      const now = clock.now().toISOString();
      const platform: PlatformWithSecrets = {
        ...input,
        id: randomUUID(),
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await outbox.transaction(async (trx, emit) => {
        if (await repository.existsByName(trx, input.name)) {
          throw new ConflictError(`a platform named ${input.name} already exists`);
        }
        await repository.insert(trx, platform).catch((err: unknown) => {
          // The partial unique index settles a race between two creates with one name.
          if ((err as { code?: string }).code === '23505') {
            throw new ConflictError(`a platform named ${input.name} already exists`);
          }
          throw err;
        });
        emit({
          exchange: EXCHANGES.events,
          routingKey: platformRegistered.type,
          envelope: createEnvelope(
            platformRegistered,
            { platform: summarize(platform) },
            { ...(correlationId ? { correlationId } : {}), now: clock.now() },
          ),
        });
      });
      return masked(platform);
    },

    async getWithSecrets(id: string): Promise<PlatformWithSecrets> {
      const platform = await repository.findById(id);
      if (!platform) throw new NotFoundError(`platform ${id} not found`);
      return platform;
    },

    async list(query: {
      limit: number;
      cursor?: string | undefined;
      active?: boolean | undefined;
    }) {
      const items = await repository.list({
        limit: query.limit + 1,
        ...(query.active !== undefined ? { active: query.active } : {}),
        ...(query.cursor ? { afterName: decodeCursor(query.cursor) } : {}),
      });
      const page = items.slice(0, query.limit);
      const last = page.at(-1);
      return {
        items: page.map(masked),
        nextCursor: items.length > query.limit && last ? encodeCursor(last.name) : null,
      };
    },
  };
}

export type PlatformService = ReturnType<typeof createPlatformService>;
