import { randomUUID } from 'node:crypto';
import {
  EXCHANGES,
  platformDeleted,
  platformCursor,
  platformInput,
  platformRegistered,
  platformUpdated,
  summarizePlatform,
  type MaskedAuth,
  type Platform,
  type PlatformAuth,
  type PlatformAuthUpdate,
  type PlatformTestResult,
  type PlatformWithSecrets,
} from '@psc/contracts';
import {
  AppError,
  ConflictError,
  NotFoundError,
  ValidationError,
  mergePatch,
  type Clock,
} from '@psc/core';
import type { EgressGuard } from '@psc/egress';
import { createEnvelope, type Emit } from '@psc/messaging';
import type { z } from 'zod';
import type { PlatformStore, PlatformTx, SealedPlatform } from '../data-access/platform.store.ts';
import type { PlatformProbe } from '../data-access/platform-probe.ts';
import { assertPlatformRules, dryRunExpressions, maskCredentialHeaders } from './platform-rules.ts';

type ParsedInput = z.infer<typeof platformInput>;
type Definition = Omit<PlatformWithSecrets, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

function maskAuth(auth: Pick<PlatformAuth, 'type'> & { name?: string }): MaskedAuth {
  if (auth.type === 'none') return { type: 'none' };
  return { type: auth.type, ...(auth.name === undefined ? {} : { name: auth.name }), token: '***' };
}

/**
 * A platform as anyone may see it: the credential masked, and so are the values of
 * credential-looking static headers, which platforms saved before that rule may still hold.
 */
export function masked(p: PlatformWithSecrets | SealedPlatform): Platform {
  return {
    ...p,
    auth: maskAuth(p.auth),
    resources: p.resources.map((r) => ({
      ...r,
      request: { ...r.request, headers: maskCredentialHeaders(r.request.headers) },
      ...(r.fanOut
        ? {
            fanOut: {
              ...r.fanOut,
              request: {
                ...r.fanOut.request,
                headers: maskCredentialHeaders(r.fanOut.request.headers),
              },
            },
          }
        : {}),
    })),
  };
}

/**
 * A stored credential goes only to the origin (scheme, host, port) it was given for: moving
 * `baseUrl` elsewhere needs the credential sent again, or auth `none`.
 */
function assertCredentialFollows(
  current: PlatformWithSecrets,
  baseUrl: string,
  auth: { type: string; token?: string | undefined } | undefined,
): void {
  if (current.auth.type === 'none' || !auth || auth.type === 'none') return;
  const resent = auth.token !== undefined && auth.token !== '***';
  const from = new URL(current.baseUrl).origin;
  const to = new URL(baseUrl).origin;
  if (resent || from === to) return;
  const message = `the base URL moves from ${from} to ${to}: send auth.token again (the stored credential never goes to another host)`;
  throw new AppError('credential_required', 422, `auth.token: ${message}`, {
    details: [{ path: 'auth.token', message }],
    retryable: false,
  });
}

/** `['resources', 0, 'key']` → `resources[0].key`, as the gateway names paths. */
const pathOf = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (out, k) => (typeof k === 'number' ? `${out}[${k}]` : out ? `${out}.${String(k)}` : String(k)),
    '',
  ) || '(root)';

function parseDefinition(value: unknown): ParsedInput {
  const parsed = platformInput.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: pathOf(i.path), message: i.message }));
  const first = details[0];
  throw new ValidationError(
    first ? `invalid ${first.path}: ${first.message}` : 'invalid platform',
    details,
  );
}

/** A write-only token left out (or sent back as `***`) keeps the stored one of the same kind. */
function resolveAuth(update: PlatformAuthUpdate, current: PlatformAuth): PlatformAuth {
  if (update.type === 'none') return update;
  const kept = update.token === undefined || update.token === '***';
  if (!kept) return update as PlatformAuth;
  if (current.type === update.type && 'token' in current) {
    return { ...update, token: current.token };
  }
  throw new ValidationError('invalid auth.token: required when the auth type changes', [
    { path: 'auth.token', message: 'required when the auth type changes' },
  ]);
}

function staleVersion(id: string, current: number, expected: number): AppError {
  return new AppError(
    'precondition_failed',
    412,
    `platform ${id} is at version ${current}, not ${expected}`,
    { details: { currentVersion: current }, retryable: false },
  );
}

const nameTaken = (name: string) => new ConflictError(`a platform named ${name} already exists`);

export function createPlatformService(deps: {
  store: PlatformStore;
  clock: Clock;
  egress: EgressGuard;
  probe: PlatformProbe;
}) {
  const { store, clock, egress } = deps;
  const meta = (correlationId?: string) => ({
    ...(correlationId ? { correlationId } : {}),
    now: clock.now(),
  });

  async function loadForChange(tx: PlatformTx, id: string, expected?: number) {
    const current = await tx.findForUpdate(id);
    if (!current) throw new NotFoundError(`platform ${id} not found`);
    if (expected !== undefined && expected !== current.version) {
      throw staleVersion(id, current.version, expected);
    }
    return current;
  }

  /** Validates `definition` and stores it as the next version of `current`, with its event. */
  async function saveNext(
    tx: PlatformTx,
    emit: Emit,
    current: PlatformWithSecrets,
    definition: Definition,
    correlationId?: string,
  ): Promise<Platform> {
    // dryRunExpressions ran before the transaction: it may take seconds, and must not hold a lock.
    assertPlatformRules(definition);
    if (definition.baseUrl !== current.baseUrl) await egress.checkUrl(definition.baseUrl);
    if (definition.name !== current.name && (await tx.existsByName(definition.name, current.id))) {
      throw nameTaken(definition.name);
    }
    const next: PlatformWithSecrets = {
      ...definition,
      id: current.id,
      version: current.version + 1,
      createdAt: current.createdAt,
      updatedAt: clock.now().toISOString(),
    };
    const updated = await tx.update(next, current.version);
    if (updated === 'name_taken') throw nameTaken(definition.name);
    if (updated === 'stale') throw staleVersion(current.id, current.version + 1, current.version);
    emit({
      exchange: EXCHANGES.events,
      routingKey: platformUpdated.type,
      envelope: createEnvelope(
        platformUpdated,
        { platform: summarizePlatform(next) },
        meta(correlationId),
      ),
    });
    return masked(next);
  }

  return {
    async create(input: ParsedInput, correlationId?: string): Promise<Platform> {
      assertPlatformRules(input);
      await dryRunExpressions(input);
      await egress.checkUrl(input.baseUrl);
      const now = clock.now().toISOString();
      const platform: PlatformWithSecrets = {
        ...input,
        id: randomUUID(),
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await store.transaction(async (tx, emit) => {
        // The store's unique index settles a race between two creates with one name.
        if ((await tx.existsByName(input.name)) || (await tx.insert(platform)) === 'name_taken') {
          throw nameTaken(input.name);
        }
        emit({
          exchange: EXCHANGES.events,
          routingKey: platformRegistered.type,
          envelope: createEnvelope(
            platformRegistered,
            { platform: summarizePlatform(platform) },
            meta(correlationId),
          ),
        });
      });
      return masked(platform);
    },

    async replace(
      request: {
        id: string;
        expectedVersion?: number | undefined;
        platform: Omit<ParsedInput, 'auth'> & { auth: PlatformAuthUpdate };
      },
      correlationId?: string,
    ): Promise<Platform> {
      assertPlatformRules(request.platform);
      await dryRunExpressions(request.platform);
      return store.transaction(async (tx, emit) => {
        const current = await loadForChange(tx, request.id, request.expectedVersion);
        assertCredentialFollows(current, request.platform.baseUrl, request.platform.auth);
        const auth = resolveAuth(request.platform.auth, current.auth);
        return saveNext(tx, emit, current, { ...request.platform, auth }, correlationId);
      });
    },

    async patch(
      request: { id: string; expectedVersion?: number | undefined; patch: Record<string, unknown> },
      correlationId?: string,
    ): Promise<Platform> {
      const apply = (current: PlatformWithSecrets): Definition => {
        const { id: _id, version: _v, createdAt: _c, updatedAt: _u, ...definition } = current;
        const patched = mergePatch(definition, request.patch) as Record<string, unknown>;
        // Switching to `none` drops the old credential instead of failing on a leftover token.
        const auth = patched.auth as Record<string, unknown> | undefined;
        if (auth?.type === 'none') patched.auth = { type: 'none' };
        if (auth && auth.token === '***' && 'token' in current.auth) {
          patched.auth = { ...auth, token: current.auth.token };
        }
        const patchedAuth = request.patch.auth as { token?: string } | null | undefined;
        const next = parseDefinition(patched);
        assertCredentialFollows(current, next.baseUrl, {
          type: next.auth.type,
          token: patchedAuth?.token,
        });
        return next;
      };
      // The dry run may take seconds: it runs on an unlocked read, and again in the
      // transaction only if the platform changed in between.
      const before = await store.findById(request.id);
      if (!before) throw new NotFoundError(`platform ${request.id} not found`);
      const checked = apply(before);
      assertPlatformRules(checked);
      await dryRunExpressions(checked);
      return store.transaction(async (tx, emit) => {
        const current = await loadForChange(tx, request.id, request.expectedVersion);
        const next = current.version === before.version ? checked : apply(current);
        if (next !== checked) await dryRunExpressions(next);
        return saveNext(tx, emit, current, next, correlationId);
      });
    },

    async remove(
      request: { id: string; expectedVersion?: number | undefined },
      correlationId?: string,
    ): Promise<{ id: string; version: number }> {
      return store.transaction(async (tx, emit) => {
        const current = await loadForChange(tx, request.id, request.expectedVersion);
        const version = current.version + 1;
        await tx.softDelete(current.id, current.version, clock.now());
        emit({
          exchange: EXCHANGES.events,
          routingKey: platformDeleted.type,
          envelope: createEnvelope(
            platformDeleted,
            { platformId: current.id, version },
            meta(correlationId),
          ),
        });
        return { id: current.id, version };
      });
    },

    /** The platform as anyone may see it; its credential is not even opened. */
    async get(id: string): Promise<Platform> {
      const platform = await store.findSealed(id);
      if (!platform) throw new NotFoundError(`platform ${id} not found`);
      return masked(platform);
    },

    async getWithSecrets(id: string): Promise<PlatformWithSecrets> {
      const platform = await store.findById(id);
      if (!platform) throw new NotFoundError(`platform ${id} not found`);
      return platform;
    },

    async list(query: {
      limit: number;
      cursor?: string | undefined;
      active?: boolean | undefined;
      tag?: string | undefined;
    }) {
      const items = await store.list({
        limit: query.limit + 1,
        ...(query.active !== undefined ? { active: query.active } : {}),
        ...(query.tag !== undefined ? { tag: query.tag } : {}),
        ...(query.cursor ? { afterName: platformCursor.decode(query.cursor) } : {}),
      });
      const page = items.slice(0, query.limit);
      const last = page.at(-1);
      return {
        items: page.map(masked),
        nextCursor: items.length > query.limit && last ? platformCursor.encode(last.name) : null,
      };
    },

    async test(request: {
      id: string;
      resource?: string | undefined;
      params: Record<string, string>;
    }): Promise<PlatformTestResult> {
      const platform = await this.getWithSecrets(request.id);
      const resource =
        request.resource === undefined
          ? platform.resources[0]
          : platform.resources.find((r) => r.name === request.resource);
      if (!resource) {
        throw new NotFoundError(`platform ${platform.name} has no resource ${request.resource}`);
      }
      return deps.probe.probe(platform, resource, request.params);
    },
  };
}

export type PlatformService = ReturnType<typeof createPlatformService>;
