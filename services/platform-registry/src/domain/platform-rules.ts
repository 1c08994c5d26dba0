import { AppError, ValidationError } from '@psc/core';
import type { PlatformInput, ResourceRequest } from '@psc/contracts';
import { asArray, evaluate, expressionBudget, expressionProblem } from '@psc/platform-http';

/** What the rules look at: everything but the credential. */
type Definition = Omit<PlatformInput, 'auth'>;

interface Expression {
  path: string;
  source: string;
}

interface Problem {
  path: string;
  message: string;
}

const mappingOf = (at: string, mapping: Record<string, string>): Expression[] =>
  Object.entries(mapping).map(([field, source]) => ({ path: `${at}.mapping.${field}`, source }));

function expressionsOf(platform: Definition): Expression[] {
  return platform.resources.flatMap((resource, i) => {
    const at = `resources[${i}]`;
    const optional = (path: string, source: string | undefined): Expression[] =>
      source === undefined ? [] : [{ path, source }];
    const pagination = resource.pagination;
    return [
      { path: `${at}.itemsPath`, source: resource.itemsPath },
      { path: `${at}.key`, source: resource.key },
      ...optional(`${at}.successWhen`, resource.successWhen),
      ...optional(`${at}.errorMessagePath`, resource.errorMessagePath),
      ...mappingOf(at, resource.mapping),
      ...optional(
        `${at}.pagination.totalPath`,
        pagination && 'totalPath' in pagination ? pagination.totalPath : undefined,
      ),
      ...optional(
        `${at}.pagination.nextPath`,
        pagination && 'nextPath' in pagination ? pagination.nextPath : undefined,
      ),
      ...optional(`${at}.fanOut.entriesPath`, resource.fanOut?.entriesPath),
      ...optional(`${at}.fanOut.itemsPath`, resource.fanOut?.itemsPath),
      ...(resource.children ?? []).flatMap((child, j) => {
        const c = `${at}.children[${j}]`;
        return [
          { path: `${c}.itemsPath`, source: child.itemsPath },
          { path: `${c}.key`, source: child.key },
          ...mappingOf(c, child.mapping),
        ];
      }),
    ];
  });
}

/**
 * Every JSONata expression compiles and its regular expressions run on the linear-time engine,
 * so a broken or backtracking mapping is refused when it is saved rather than when a job runs.
 * The error names the JSON path of each bad expression.
 */
function assertExpressionsCompile(platform: Definition): void {
  const problems: Problem[] = [];
  for (const { path, source } of expressionsOf(platform)) {
    const message = expressionProblem(source);
    if (message) problems.push({ path, message });
  }
  const first = problems[0];
  if (first) throw new ValidationError(`${first.path}: ${first.message}`, problems);
}

/**
 * Header names that carry credentials. A static header is shown to every viewer and copied into
 * every platform read, so a credential belongs in `auth`, which is stored sealed and masked.
 */
const CREDENTIAL_HEADER =
  /auth|token|secret|passw|api[-_]?key|apikey|credential|cookie|session|signature|private|^x-key$/i;

export const isCredentialHeader = (name: string): boolean => CREDENTIAL_HEADER.test(name);

function requestsOf(platform: Definition): { path: string; request: ResourceRequest }[] {
  return platform.resources.flatMap((resource, i) => [
    { path: `resources[${i}].request`, request: resource.request as ResourceRequest },
    ...(resource.fanOut
      ? [
          {
            path: `resources[${i}].fanOut.request`,
            request: resource.fanOut.request as ResourceRequest,
          },
        ]
      : []),
  ]);
}

/** Static request headers hold no credentials (see CREDENTIAL_HEADER). */
function assertNoCredentialHeaders(platform: Definition): void {
  const problems: Problem[] = [];
  for (const { path, request } of requestsOf(platform)) {
    for (const name of Object.keys(request.headers ?? {})) {
      if (isCredentialHeader(name)) {
        problems.push({
          path: `${path}.headers.${name}`,
          message: `looks like a credential: put it in auth (e.g. {"type": "header", "name": "${name}", "token": …}), which is stored encrypted and never shown`,
        });
      }
    }
  }
  const first = problems[0];
  if (first) throw new ValidationError(`${first.path}: ${first.message}`, problems);
}

/** The values of credential-looking headers, replaced by `***` (platforms saved before the rule). */
export function maskCredentialHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, isCredentialHeader(k) ? '***' : v]),
  );
}

/** Items of a sample response that the item expressions are dry-run on. */
const SAMPLE_ITEMS = 20;

/**
 * Dry-runs every expression within the expression budget: on the resource's `sample` when it
 * has one (then any failure is reported), else on an empty document (then only running over
 * budget is: expressions like an endless recursion fail whatever the data). All dry runs of a
 * save share one time budget, so a save answers in about twice the per-evaluation limit at most.
 * Over budget → 422 `mapping_limit`; a failure on the sample → 422 `validation_failed`.
 */
export async function dryRunExpressions(platform: Definition): Promise<void> {
  const started = performance.now();
  const { timeoutMs } = expressionBudget();
  let limit: Problem | undefined;
  const failures: Problem[] = [];

  const run = async (source: string, input: unknown, path: string, strict: boolean) => {
    if (limit) return undefined;
    if (performance.now() - started > timeoutMs) {
      limit = {
        path,
        message: `the dry run of the platform's expressions took over ${timeoutMs} ms`,
      };
      return undefined;
    }
    try {
      return await evaluate(source, input, path);
    } catch (err) {
      const e = err as AppError;
      // evaluate's messages start with the path they were given.
      const said = e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message;
      if (e.code === 'mapping_limit') limit = { path, message: said };
      else if (strict) failures.push({ path, message: `fails on the sample: ${said}` });
      return undefined;
    }
  };

  for (const [i, resource] of platform.resources.entries()) {
    const at = `resources[${i}]`;
    const strict = resource.sample !== undefined;
    const body = strict ? resource.sample : {};
    const pagination = resource.pagination;
    const onBody: [string, string | undefined][] = [
      ['successWhen', resource.successWhen],
      ['errorMessagePath', resource.errorMessagePath],
      [
        'pagination.totalPath',
        pagination && 'totalPath' in pagination ? pagination.totalPath : undefined,
      ],
      [
        'pagination.nextPath',
        pagination && 'nextPath' in pagination ? pagination.nextPath : undefined,
      ],
      ['fanOut.entriesPath', resource.fanOut?.entriesPath],
      ['fanOut.itemsPath', resource.fanOut?.itemsPath],
    ];
    for (const [path, source] of onBody) {
      if (source !== undefined) await run(source, body, `${at}.${path}`, strict);
    }
    const found = asArray(await run(resource.itemsPath, body, `${at}.itemsPath`, strict));
    const items = found.length > 0 ? found.slice(0, SAMPLE_ITEMS) : [{}];
    for (const item of items) {
      await run(resource.key, item, `${at}.key`, strict);
      for (const [field, source] of Object.entries(resource.mapping)) {
        await run(source, item, `${at}.mapping.${field}`, strict);
      }
      for (const [j, child] of (resource.children ?? []).entries()) {
        const c = `${at}.children[${j}]`;
        const list = asArray(await run(child.itemsPath, item, `${c}.itemsPath`, strict));
        for (const entry of list.length > 0 ? list.slice(0, SAMPLE_ITEMS) : [{}]) {
          await run(child.key, entry, `${c}.key`, strict);
          for (const [field, source] of Object.entries(child.mapping)) {
            await run(source, entry, `${c}.mapping.${field}`, strict);
          }
        }
      }
    }
  }
  if (limit) {
    throw new AppError('mapping_limit', 422, `${limit.path}: ${limit.message}`, {
      details: [limit],
      retryable: false,
    });
  }
  const first = failures[0];
  if (first) throw new ValidationError(`${first.path}: ${first.message}`, failures);
}

function assertUniqueResourceNames(platform: Definition): void {
  const seen = new Set<string>();
  platform.resources.forEach((r, i) => {
    if (seen.has(r.name)) {
      throw new ValidationError(`resources[${i}].name: duplicate resource name ${r.name}`, [
        { path: `resources[${i}].name`, message: 'duplicate resource name' },
      ]);
    }
    seen.add(r.name);
  });
}

/** An incremental sync's high-water field must be one the mapping produces. */
function assertCursorFieldsMapped(platform: Definition): void {
  platform.resources.forEach((r, i) => {
    if (r.cursor && !(r.cursor.field in r.mapping)) {
      const path = `resources[${i}].cursor.field`;
      throw new ValidationError(`${path}: ${r.cursor.field} is not a mapped field`, [
        { path, message: 'not a mapped field' },
      ]);
    }
  });
}

/** Child names are unique within their resource: they name the stored collections. */
function assertUniqueChildNames(platform: Definition): void {
  platform.resources.forEach((r, i) => {
    const seen = new Set<string>();
    (r.children ?? []).forEach((c, j) => {
      const path = `resources[${i}].children[${j}].name`;
      if (seen.has(c.name)) {
        throw new ValidationError(`${path}: duplicate child name ${c.name}`, [
          { path, message: 'duplicate child name' },
        ]);
      }
      seen.add(c.name);
    });
  });
}

/** Every rule a platform must pass before it is stored (see also `dryRunExpressions`). */
export function assertPlatformRules(platform: Definition): void {
  assertUniqueResourceNames(platform);
  assertUniqueChildNames(platform);
  assertCursorFieldsMapped(platform);
  assertNoCredentialHeaders(platform);
  assertExpressionsCompile(platform);
}
