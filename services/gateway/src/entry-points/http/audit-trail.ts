import type { Middleware } from 'koa';
import type { AuditEntry } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { AuditRepository } from '../../data-access/audit.repository.ts';
import { principalOf } from './auth.ts';

type Params = Record<string, string>;
type Body = Record<string, unknown>;

/** What an audited operation records: its action name and target, from the request's params. */
interface AuditedOperation {
  action: (params: Params) => string;
  targetType: AuditEntry['targetType'];
  targetId: (params: Params, body: Body, reply: Body, state: AuditState) => string;
  /** The body is a filter (its `reason` is a match, not the operator's why): kept as `filter`. */
  bodyIsFilter?: true;
}

/**
 * What a route found out while it served the request and the entry needs: the collector routes
 * name a platform by its name, and learn its id only from the collector.
 */
interface AuditState {
  auditTargetId?: string;
}

/** Names the audit entry's target for a route whose params do not hold it. */
export const auditTargetIs = (state: object, targetId: string): void => {
  (state as AuditState).auditTargetId = targetId;
};

const fixed = (value: string) => () => value;
const param = (name: string) => (params: Params) => params[name] ?? '';
const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.slice(0, 500) : undefined;

/**
 * Operator actions the gateway audits for the owner services, which do not know the key: keyed
 * by `METHOD router-pattern`. Platform and key changes audit themselves (platforms.routes.ts,
 * api-keys.routes.ts), with their versions.
 */
const AUDITED: Record<string, AuditedOperation> = {
  'POST /scheduler/:action': {
    action: (p) => `scheduler.${p.action}`,
    targetType: 'scheduler',
    targetId: fixed('scheduler'),
  },
  'POST /scheduler/config/:taskType/:action': {
    action: (p) => `task-type.${p.action}`,
    targetType: 'task-type',
    targetId: param('taskType'),
  },
  'POST /scheduler/config': {
    action: fixed('task-type.configs-replaced'),
    targetType: 'task-type',
    targetId: (_p, body) => Object.keys(body).sort().join(','),
  },
  'PUT /scheduler/config/:taskType': {
    action: fixed('task-type.config-replaced'),
    targetType: 'task-type',
    targetId: param('taskType'),
  },
  'POST /run/:taskType': {
    action: (p) => `job.run-now.${p.taskType}`,
    targetType: 'platform',
    targetId: (_p, body) => text(body.platformId) ?? '',
  },
  'POST /jobs/:id/cancel': {
    action: fixed('job.cancel'),
    targetType: 'job',
    targetId: param('id'),
  },
  'POST /dlq/replay': {
    action: fixed('dlq.replay'),
    targetType: 'job',
    targetId: fixed('*'),
    bodyIsFilter: true,
  },
  'POST /dlq/:jobId/replay': {
    action: fixed('dlq.replay'),
    targetType: 'job',
    targetId: param('jobId'),
  },
  'DELETE /dlq/:jobId': {
    action: fixed('dlq.delete'),
    targetType: 'job',
    targetId: param('jobId'),
  },
  'POST /platforms/:id/breaker/reset': {
    action: fixed('breaker.reset'),
    targetType: 'platform',
    targetId: param('id'),
  },
  'POST /platforms/:id/sync/:action': {
    action: (p) => `platform.sync-${p.action}`,
    targetType: 'platform',
    targetId: param('id'),
  },
  'POST /backfills': {
    action: fixed('backfill.create'),
    targetType: 'backfill',
    targetId: (_p, _b, reply) => text(reply.id) ?? '',
  },
  'POST /backfills/:id/cancel': {
    action: fixed('backfill.cancel'),
    targetType: 'backfill',
    targetId: param('id'),
  },
  'POST /collectors/:platform/:resource/:action': {
    action: (p) => `collector.${p.action}`,
    // The platform's id, as every other platform action's entry has: a trail narrowed to the
    // platform finds its collectors' stops and runs too (the name stays in the details).
    targetType: 'platform',
    targetId: (p, _b, _r, state) => state.auditTargetId ?? param('platform')(p),
  },
};

/** The facts worth keeping of a request body: its reason and the filter it named, never data. */
function detailsOf(body: Body, params: Params): Record<string, unknown> {
  const details: Record<string, unknown> = { ...params };
  for (const key of ['reason', 'platformId', 'resource', 'taskType', 'queue', 'from', 'to']) {
    const value = text(body[key]);
    if (value !== undefined) details[key] = value;
  }
  return details;
}

/** A router pattern with its literal action segments as they are mounted, back to the table's. */
function tableKey(method: string, pattern: string): string | undefined {
  const path = pattern.replace(/^\/api\/v1/, '');
  const direct = `${method} ${path}`;
  if (AUDITED[direct]) return direct;
  const generic = `${method} ${path.replace(/\/(pause|resume|stop|start|once|enable|disable)$/, '/:action')}`;
  return AUDITED[generic] ? generic : undefined;
}

/**
 * Records each successful operator action of the table above in the gateway's audit log, with
 * the key that made it, when, and the reason given. After the owner answered: a refused or failed
 * request changed nothing. The entry is written behind the answer (`AuditRepository.append`).
 */
export function auditTrail(deps: { audit: AuditRepository; clock: Clock }): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.status < 200 || ctx.status >= 300) {
      return;
    }
    const pattern = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
    if (typeof pattern !== 'string') return;
    const key = tableKey(ctx.method, pattern);
    if (!key) return;
    const op = AUDITED[key]!;
    const params = { ...(ctx as unknown as { params?: Params }).params };
    const literal = /\/(pause|resume|stop|start|once|enable|disable)$/.exec(ctx.path)?.[1];
    if (literal && params.action === undefined && key.endsWith('/:action')) params.action = literal;
    const body = isRecord((ctx.request as { body?: unknown }).body)
      ? ((ctx.request as { body?: unknown }).body as Body)
      : {};
    const reply = replyOf(ctx.body);
    await deps.audit.append({
      at: deps.clock.now(),
      actorKeyId: principalOf(ctx).keyId,
      action: op.action(params),
      targetType: op.targetType,
      targetId: op.targetId(params, body, reply, ctx.state),
      details: op.bodyIsFilter ? { filter: detailsOf(body, {}) } : detailsOf(body, params),
    });
  };
}

const isRecord = (value: unknown): value is Body =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The owner's reply, parsed when it was relayed as JSON text. Bounded: replies are pages. */
function replyOf(body: unknown): Body {
  if (isRecord(body) && !Buffer.isBuffer(body)) return body;
  if (Buffer.isBuffer(body) && body.length < 65_536) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      return isRecord(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }
  return {};
}
