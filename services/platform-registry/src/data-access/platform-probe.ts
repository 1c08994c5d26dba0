import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import fetch from 'node-fetch';
import type { PlatformTestResult, PlatformWithSecrets, ResourceDefinition } from '@psc/contracts';
import { AppError, TimeoutError, UnavailableError } from '@psc/core';
import type { EgressGuard } from '@psc/egress';
import { evaluate, fillPath, fillText } from '@psc/platform-http';

/** Replaces how sockets are opened (tests keep every connection on loopback). */
export type Connect = (options: { host?: string | null; port?: number | string | null }) => Socket;

/**
 * The resource's first page as the workers would ask for it, credentials applied. Path params
 * stay inside their own segment, as in the collector; a missing one is a 422 `missing_param`.
 */
function buildRequest(
  platform: PlatformWithSecrets,
  resource: ResourceDefinition,
  params: Record<string, string>,
) {
  const lookup = (name: string) => params[name];
  const url = new URL(
    platform.baseUrl.replace(/\/+$/, '') + fillPath(resource.request.path, lookup),
  );
  for (const [k, v] of Object.entries(resource.request.query ?? {})) {
    url.searchParams.set(k, fillText(v, lookup));
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [k, v] of Object.entries(resource.request.headers ?? {})) headers[k] = v;
  const auth = platform.auth;
  if (auth.type === 'bearer') headers.authorization = `Bearer ${auth.token}`;
  if (auth.type === 'header') headers[auth.name] = auth.token;
  if (auth.type === 'query') url.searchParams.set(auth.name, auth.token);
  const body =
    resource.request.method === 'POST' && resource.request.body !== undefined
      ? JSON.stringify(resource.request.body)
      : undefined;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return { url, init: { method: resource.request.method, headers, body } };
}

/** What an expression over the response gave, or the problem to report (over budget, failed). */
async function evaluateOn(
  source: string,
  data: unknown,
  where: string,
): Promise<{ value: unknown } | { problem: string }> {
  try {
    return { value: await evaluate(source, data, where) };
  } catch (err) {
    const e = err as AppError;
    return { problem: e.code === 'mapping_limit' ? `mapping_limit: ${e.message}` : e.message };
  }
}

const countOf = (found: unknown): number | null =>
  found === undefined ? 0 : Array.isArray(found) ? found.length : null;

/**
 * `POST /platforms/{id}/test`: one real request through the egress guard, redirects refused.
 * Errors carry the host at most: never the URL, whose query may hold a credential.
 */
export function createPlatformProbe(options: { egress: EgressGuard; connect?: Connect }) {
  const httpAgent = new HttpAgent({ lookup: options.egress.lookup });
  const httpsAgent = new HttpsAgent({ lookup: options.egress.lookup });
  if (options.connect) {
    const connect = options.connect;
    httpAgent.createConnection = (opts) => connect(opts);
    httpsAgent.createConnection = (opts) => connect(opts);
  }

  return {
    async probe(
      platform: PlatformWithSecrets,
      resource: ResourceDefinition,
      params: Record<string, string>,
    ): Promise<PlatformTestResult> {
      const { url, init } = buildRequest(platform, resource, params);
      await options.egress.checkUrl(url.toString());
      const host = url.host;
      const started = performance.now();
      let response;
      try {
        response = await fetch(url.toString(), {
          ...init,
          redirect: 'manual',
          agent: (u: URL) => (u.protocol === 'https:' ? httpsAgent : httpAgent),
          signal: AbortSignal.timeout(platform.timeoutMs),
          size: platform.maxResponseBytes,
        });
      } catch (err) {
        throw upstreamError(err, host, platform.timeoutMs);
      }
      const status = response.status;
      if (status >= 300 && status < 400) {
        await response.arrayBuffer().catch(() => undefined);
        throw new AppError(
          'redirect_blocked',
          502,
          `${host} answered ${status} with a redirect; psc does not follow redirects`,
          { retryable: false },
        );
      }
      let text: string;
      try {
        text = await response.text();
      } catch (err) {
        throw upstreamError(err, host, platform.timeoutMs);
      }
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      const result = { resource: resource.name, status, latencyMs };
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        return { ...result, ok: false, itemCount: null, problem: 'response is not JSON' };
      }
      // Platform data meets the definition's expressions here as in a job: within the budget.
      const items = await evaluateOn(resource.itemsPath, data, 'itemsPath');
      const itemCount = 'value' in items ? countOf(items.value) : null;
      if (status < 200 || status >= 300) {
        return { ...result, ok: false, itemCount, problem: `status ${status}` };
      }
      if ('problem' in items) return { ...result, ok: false, itemCount, problem: items.problem };
      if (resource.successWhen) {
        const success = await evaluateOn(resource.successWhen, data, 'successWhen');
        if ('problem' in success) {
          return { ...result, ok: false, itemCount, problem: success.problem };
        }
        if (success.value !== true) {
          return { ...result, ok: false, itemCount, problem: 'successWhen did not hold' };
        }
      }
      return { ...result, ok: true, itemCount };
    },
    close(): void {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export type PlatformProbe = ReturnType<typeof createPlatformProbe>;

function upstreamError(err: unknown, host: string, timeoutMs: number): AppError {
  const e = err as { name?: string; code?: string; type?: string };
  if (err instanceof AppError) return err;
  if (e.code === 'egress_denied') {
    return new AppError(
      'egress_denied',
      422,
      `egress denied: ${host} resolves to a blocked address`,
      {
        retryable: false,
      },
    );
  }
  if (e.name === 'AbortError' || e.name === 'TimeoutError') {
    return new TimeoutError(`${host} did not answer within ${timeoutMs} ms`);
  }
  if (e.type === 'max-size') {
    return new AppError('upstream_too_large', 502, `${host} sent a response over the size limit`);
  }
  // node-fetch's message quotes the URL (and so a query credential): only the code goes out.
  return new UnavailableError(`cannot reach ${host}${e.code ? ` (${e.code})` : ''}`);
}
