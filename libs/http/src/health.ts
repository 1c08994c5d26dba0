import { Router } from '@koa/router';
import type { Registry } from 'prom-client';
import { TimeoutError } from '@psc/core';
import { redactUrl } from '@psc/telemetry';

/** A readiness check: resolves when the dependency is usable, rejects with the reason. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthRoutesOptions {
  registry: Registry;
  readiness: Record<string, ReadinessCheck>;
  /** Per-check limit; 2 s when omitted. */
  readinessTimeoutMs?: number;
}

/** Body of `GET /ready`: `ok` or the failure reason of each named check. */
export interface ReadinessBody {
  status: 'ready' | 'unavailable';
  checks: Record<string, string>;
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return redactUrl(message.split('\n', 1)[0] || 'failed');
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check in parallel, each bounded by `timeoutMs`. */
export async function checkReadiness(
  readiness: Record<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<ReadinessBody> {
  const entries = await Promise.all(
    Object.entries(readiness).map(async ([name, check]): Promise<[string, string]> => [
      name,
      await runCheck(check, timeoutMs),
    ]),
  );
  const checks: Record<string, string> = Object.fromEntries(entries);
  const ready = Object.values(checks).every((result) => result === 'ok');
  return { status: ready ? 'ready' : 'unavailable', checks };
}

/**
 * `GET /health` (liveness: 200 without I/O), `GET /ready` (200 when every check passes, else 503
 * with each failure) and `GET /metrics` (Prometheus text of `registry`).
 */
export function createHealthRouter(options: HealthRoutesOptions): Router {
  const timeoutMs = options.readinessTimeoutMs ?? 2_000;
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const body = await checkReadiness(options.readiness, timeoutMs);
    ctx.status = body.status === 'ready' ? 200 : 503;
    ctx.body = body;
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = options.registry.contentType;
    ctx.body = await options.registry.metrics();
  });
  return router;
}
