import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'libs/cli/src');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * Operations of the API with no `psc` command, on purpose. Anything an on-call operator does
 * through the API belongs in the CLI; an entry here says why this one does not.
 */
const LEFT_OUT = new Map<string, string>([
  // Another caller's, not an operator's.
  ['GET /health', "orchestrators' liveness probe; `psc status` is the operator's question"],
  ['GET /ready', "orchestrators' readiness probe; `psc status` is the operator's question"],
  ['GET /metrics', 'scraped by Prometheus, in its text format'],
  ['GET /openapi.json', "the API's own description, read by client generators"],
  ['GET /docs', 'the Swagger UI page, for a browser'],
  ['GET /docs/{asset}', "the Swagger UI page's scripts and styles, for a browser"],
  // The same thing through another route that a command already calls.
  [
    'GET /api/v1/platforms/active',
    'the list `platforms ls --active` reads from GET /api/v1/platforms?active=true, paged',
  ],
  [
    'GET /api/v1/monitoring/queues',
    'the queue table `psc status` prints: GET /api/v1/monitoring/pipeline answers the same rows',
  ],
  [
    'PUT /api/v1/platforms/{id}',
    '`platforms edit` changes a platform with a merge patch, which can make any change a replace makes',
  ],
  [
    'POST /api/v1/collectors/{platform}/{resource}/once',
    'the run `collections run <platform> <resource>` starts through POST /api/v1/collections',
  ],
  // Configuration rather than operation: a task type's schedule is set once, in review.
  [
    'PUT /api/v1/scheduler/config/{taskType}',
    "setting a task type's cron is configuration; on call, `scheduler config <task> pause|resume`",
  ],
  [
    'POST /api/v1/scheduler/config',
    'several task types at once: the configuration of the PUT above, in one request',
  ],
]);

/** Every operation of the API document, as `METHOD /path`. */
function operations(): Map<string, string> {
  const document = JSON.parse(readFileSync(join(ROOT, 'libs/api-client/openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };
  const ops = new Map<string, string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) ops.set(`${method.toUpperCase()} ${path}`, op.operationId ?? '');
    }
  }
  return ops;
}

/** The CLI's source files reachable from its entry point through relative imports. */
function cliFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    const text = readFileSync(file, 'utf8');
    files.set(file, text);
    for (const [, spec] of text.matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = resolve(dirname(file), spec!);
      assert.ok(existsSync(target), `${relative(ROOT, file)} imports ${spec}, which is not there`);
      visit(target);
    }
  };
  visit(join(CLI, 'main.ts'));
  return files;
}

/**
 * The API calls in the CLI, `METHOD /path` → where. A call is the typed client's
 * `client.GET('/api/v1/…'` (or `untimed.`): one whose path is not a plain string the scan
 * cannot read, so it counts as a failure rather than as nothing.
 */
function cliCalls(): { calls: Map<string, string[]>; unreadable: string[] } {
  const calls = new Map<string, string[]>();
  const unreadable: string[] = [];
  for (const [file, text] of cliFiles()) {
    for (const match of text.matchAll(/\b(?:client|untimed)\.(GET|POST|PUT|PATCH|DELETE)\(\s*/g)) {
      const line = text.slice(0, match.index).split('\n').length;
      const where = `${relative(ROOT, file)}:${line}`;
      const path = /^'([^'\\]+)'/.exec(text.slice(match.index + match[0].length))?.[1];
      if (!path) {
        unreadable.push(where);
        continue;
      }
      const key = `${match[1]} ${path}`;
      calls.set(key, [...(calls.get(key) ?? []), where]);
    }
  }
  return { calls, unreadable };
}

describe('the psc command line covers the API', () => {
  const ops = operations();
  const { calls, unreadable } = cliCalls();

  it('when the CLI calls the API, then each call names its route as a plain string the scan can read', () => {
    assert.deepEqual(unreadable, [], "write the path out whole, e.g. client.POST('/api/v1/…')");
    assert.ok(
      calls.size > 40,
      `the scan found only ${calls.size} calls: is it still reading libs/cli?`,
    );
    const unknown = [...calls.keys()].filter((key) => !ops.has(key));
    assert.deepEqual(unknown, [], 'calls of routes the API document does not have');
  });

  it('when an operation is in the API document, then a psc command calls it or the left-out list says why not', () => {
    const missing = [...ops]
      .filter(([key]) => !calls.has(key) && !LEFT_OUT.has(key))
      .map(([key, id]) => `${key} (${id})`);
    assert.deepEqual(
      missing,
      [],
      'operations no psc command calls: add a command (docs/CLI.md), or add them to LEFT_OUT with the reason',
    );
  });

  it('when an operation is left out, then it is one the API has and no command calls', () => {
    const stale = [...LEFT_OUT.keys()].filter((key) => !ops.has(key));
    assert.deepEqual(stale, [], 'left out, but not in the API document any more');
    const called = [...LEFT_OUT.keys()].filter((key) => calls.has(key));
    assert.deepEqual(called, [], 'left out, but a command calls it: take it off the list');
  });
});
