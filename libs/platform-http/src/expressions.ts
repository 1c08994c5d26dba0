import { AsyncLocalStorage } from 'node:async_hooks';
import jsonata from 'jsonata';
import { NonRetryableError, intEnv } from '@psc/core';
import { LinearRegExp, linearRegExpProblem } from './linear-regexp.ts';

type Expression = ReturnType<typeof jsonata>;
type Node = jsonata.ExprNode;

/**
 * What one JSONata evaluation may use. Platform definitions are written by admins but run on
 * platform data, and JSONata is a full language (recursion, ranges, string building), so every
 * evaluation is bounded; going over fails it with `mapping_limit`.
 */
export interface ExpressionBudget {
  /** Wall-clock milliseconds one evaluation may take. */
  timeoutMs: number;
  /** How deeply evaluation may nest: each step, call and level of recursion counts. */
  maxDepth: number;
  /** Items one sequence or array may hold. */
  maxSequence: number;
  /**
   * Bytes one evaluation may allocate in all, estimated as 2 per character of the strings its
   * functions and `&` build and 8 per item of the arrays its ranges, constructors and functions
   * make: what bounds its memory.
   */
  maxOutputBytes: number;
}

export const DEFAULT_EXPRESSION_BUDGET: Readonly<ExpressionBudget> = Object.freeze({
  timeoutMs: 2_000,
  maxDepth: 500,
  maxSequence: 1_000_000,
  maxOutputBytes: 64 * 1024 * 1024,
});

/**
 * Environment entries for a service's config schema (`z.object({...commonEnv,
 * ...expressionBudgetEnv})`); `expressionBudgetOf` turns the parsed values into a budget.
 */
export const expressionBudgetEnv = {
  PSC_EXPRESSION_TIMEOUT_MS: intEnv(10, 600_000).default(DEFAULT_EXPRESSION_BUDGET.timeoutMs),
  PSC_EXPRESSION_MAX_DEPTH: intEnv(10, 10_000).default(DEFAULT_EXPRESSION_BUDGET.maxDepth),
  PSC_EXPRESSION_MAX_SEQUENCE: intEnv(100, 10_000_000).default(
    DEFAULT_EXPRESSION_BUDGET.maxSequence,
  ),
  PSC_EXPRESSION_MAX_OUTPUT_BYTES: intEnv(64 * 1024, 4 * 1024 * 1024 * 1024).default(
    DEFAULT_EXPRESSION_BUDGET.maxOutputBytes,
  ),
};

/** The budget from values parsed with `expressionBudgetEnv`. */
export function expressionBudgetOf(env: {
  PSC_EXPRESSION_TIMEOUT_MS: number;
  PSC_EXPRESSION_MAX_DEPTH: number;
  PSC_EXPRESSION_MAX_SEQUENCE: number;
  PSC_EXPRESSION_MAX_OUTPUT_BYTES: number;
}): ExpressionBudget {
  return {
    timeoutMs: env.PSC_EXPRESSION_TIMEOUT_MS,
    maxDepth: env.PSC_EXPRESSION_MAX_DEPTH,
    maxSequence: env.PSC_EXPRESSION_MAX_SEQUENCE,
    maxOutputBytes: env.PSC_EXPRESSION_MAX_OUTPUT_BYTES,
  };
}

let budget: Readonly<ExpressionBudget> = DEFAULT_EXPRESSION_BUDGET;

/**
 * Sets the budget of every later evaluation in this process; a service's `main.ts` calls it
 * once with its configuration. Until then the defaults apply.
 */
export function configureExpressions(next: Partial<ExpressionBudget>): void {
  budget = Object.freeze({ ...DEFAULT_EXPRESSION_BUDGET, ...next });
  compiled.clear();
}

/** The budget evaluations run under now. */
export const expressionBudget = (): Readonly<ExpressionBudget> => budget;

/** Over budget: reported as `mapping_limit`, never retried. */
class ExpressionLimitError extends Error {
  override name = 'ExpressionLimitError';
}

interface EvaluationState {
  budget: Readonly<ExpressionBudget>;
  /** Bytes allocated so far, estimated (see `maxOutputBytes`). */
  output: number;
}

const evaluations = new AsyncLocalStorage<EvaluationState>();

const created = (what: string, state: EvaluationState) =>
  new ExpressionLimitError(
    `${what} more than the ${state.budget.maxOutputBytes} bytes an evaluation may allocate`,
  );

const STRING_BYTES = 2;
const ITEM_BYTES = 8;

/** Fails before a function builds a string of `chars` that the evaluation may not allocate. */
function reserve(chars: number, what: string): void {
  const state = evaluations.getStore();
  if (state && state.output + chars * STRING_BYTES > state.budget.maxOutputBytes) {
    throw created(what, state);
  }
}

const tooLong = (state: EvaluationState) =>
  new ExpressionLimitError(`a sequence longer than ${state.budget.maxSequence} items`);

/**
 * JSONata evaluates through chains of already-resolved promises, which never let the event loop
 * run: a long evaluation froze every other job, health checks and SIGTERM. Each evaluation step
 * (as it ends) checks how long the loop has been held and, past this, lets it turn once.
 */
const YIELD_AFTER_MS = 10;
let lastTurn = 0;
const letLoopTurn = () =>
  new Promise<void>((resolve) =>
    setImmediate(() => {
      lastTurn = performance.now();
      resolve();
    }),
  );

/** Nodes whose results are new values, counted against `maxOutputBytes`. */
function buildsValue(node: Node): boolean {
  switch (node.type) {
    case 'function':
    case 'partial':
    case 'transform':
      return true;
    case 'binary':
      return node.value === '&' || node.value === '..';
    case 'unary':
      return node.value === '[' || node.value === '{';
    default:
      return (node.type as string) === 'apply';
  }
}

function onExit(
  node: Node,
  _input: unknown,
  _env: unknown,
  result: unknown,
): Promise<void> | undefined {
  const now = performance.now();
  if (now - lastTurn >= YIELD_AFTER_MS) {
    lastTurn = now;
    checkResult(node, result);
    return letLoopTurn();
  }
  checkResult(node, result);
  return undefined;
}

function checkResult(node: Node, result: unknown): void {
  const state = evaluations.getStore();
  if (!state || result === undefined || result === null) return;
  let size = 0;
  if (typeof result === 'string') size = result.length * STRING_BYTES;
  else if (Array.isArray(result)) {
    if (result.length > state.budget.maxSequence) throw tooLong(state);
    size = result.length * ITEM_BYTES;
  }
  if (size === 0 || !buildsValue(node)) return;
  state.output += size;
  if (state.output > state.budget.maxOutputBytes) throw created('would allocate', state);
}

interface Builtin {
  implementation: (...args: unknown[]) => unknown;
  signature: { definition: string };
}

/** JSONata's own functions, which the guarded versions below call after their checks. */
const builtins = new Map<string, Builtin>();
for (const name of ['pad', 'join', 'replace', 'split', 'match']) {
  builtins.set(name, (await jsonata(`$${name}`).evaluate(null)) as Builtin);
}
const builtin = (name: string): Builtin => builtins.get(name)!;

/** A `limit` argument capped so a function cannot build more items than a sequence may hold. */
function cappedLimit(limit: unknown): number {
  const cap = (evaluations.getStore()?.budget.maxSequence ?? Infinity) + 1;
  return typeof limit === 'number' && limit < cap ? limit : cap;
}

function checkLength(result: unknown): unknown {
  const state = evaluations.getStore();
  if (state && Array.isArray(result) && result.length > state.budget.maxSequence) {
    throw tooLong(state);
  }
  return result;
}

/** How often `pattern` matches in `str` (at most `limit`), for a string or a regex pattern. */
function countMatches(str: string, pattern: unknown, limit: number): number | undefined {
  let count = 0;
  if (typeof pattern === 'string') {
    for (let at = str.indexOf(pattern); at !== -1 && count < limit; count += 1) {
      at = str.indexOf(pattern, at + pattern.length);
    }
    return count;
  }
  if (typeof pattern !== 'function') return undefined; // a JSONata lambda: not counted here
  let match = (pattern as (s: string) => { next(): unknown } | undefined)(str);
  while (match && count < limit) {
    count += 1;
    match = match.next() as typeof match;
  }
  return count;
}

/**
 * The functions whose result can be far larger than their arguments, guarded: each checks what
 * it would build against the evaluation's budget first, since once inside it nothing can stop it.
 */
const guarded: Record<string, (this: unknown, ...args: unknown[]) => unknown> = {
  pad(str, width, char) {
    if (typeof str === 'string' && typeof width === 'number') {
      reserve(Math.abs(width) - str.length, '$pad would allocate');
    }
    return builtin('pad').implementation.call(this, str, width, char);
  },
  join(strs, separator) {
    if (Array.isArray(strs)) {
      let size = typeof separator === 'string' ? separator.length * (strs.length - 1) : 0;
      for (const s of strs) size += typeof s === 'string' ? s.length : 0;
      reserve(size, '$join would allocate');
    }
    return builtin('join').implementation.call(this, strs, separator);
  },
  replace(str, pattern, replacement, limit) {
    if (typeof str === 'string' && typeof replacement === 'string') {
      const most = typeof limit === 'number' ? limit : Infinity;
      // Each `$n` in the replacement copies a match; matches never add up to more than str.
      const copies = replacement.split('$').length - 1;
      const bound = (n: number) => str.length + n * replacement.length + copies * str.length;
      const state = evaluations.getStore();
      const room = state ? (state.budget.maxOutputBytes - state.output) / STRING_BYTES : Infinity;
      if (bound(Math.min(most, str.length + 1)) > room) {
        const count = countMatches(str, pattern, most);
        reserve(count === undefined ? Infinity : bound(count), '$replace would allocate');
      }
    }
    return builtin('replace').implementation.call(this, str, pattern, replacement, limit);
  },
  async split(str, separator, limit) {
    return checkLength(
      await builtin('split').implementation.call(this, str, separator, cappedLimit(limit)),
    );
  },
  async match(str, pattern, limit) {
    return checkLength(
      await builtin('match').implementation.call(this, str, pattern, cappedLimit(limit)),
    );
  },
};

const EXIT = Symbol.for('jsonata.__evaluate_exit');

/** JSONata with psc's limits, linear-time regular expressions and guarded functions. */
function build(source: string, limits: Readonly<ExpressionBudget>): Expression {
  const expr = jsonata(source, {
    RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    timeout: limits.timeoutMs,
    stack: limits.maxDepth,
    sequence: limits.maxSequence,
  });
  expr.assign(EXIT as unknown as string, onExit);
  for (const [name, implementation] of Object.entries(guarded)) {
    expr.registerFunction(name, implementation, builtin(name).signature.definition);
  }
  return expr;
}

const MAX_CACHED = 2_000;
const compiled = new Map<string, Expression>();

/** Compiled expressions are reused across jobs; the cache is bounded (oldest out first). */
function compile(source: string): Expression {
  let expr = compiled.get(source);
  if (!expr) {
    expr = build(source, budget);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(source, expr);
  }
  return expr;
}

function regexesOf(node: unknown, found: RegExp[] = [], seen = new Set<object>()): RegExp[] {
  if (node instanceof RegExp) found.push(node);
  else if (node && typeof node === 'object' && !seen.has(node)) {
    seen.add(node);
    for (const child of Object.values(node)) regexesOf(child, found, seen);
  }
  return found;
}

/**
 * Why an expression cannot be saved, or undefined when it can: it does not compile, or one of
 * its regular expressions needs a backtracking feature (backreference, lookaround) that the
 * linear-time engine refuses.
 */
export function expressionProblem(source: string): string | undefined {
  let expr: Expression;
  try {
    expr = compile(source);
  } catch (err) {
    return `invalid JSONata: ${messageOf(err)}`;
  }
  for (const regex of regexesOf(expr.ast())) {
    const problem = linearRegExpProblem(regex);
    if (problem) {
      return `regular expression /${regex.source}/ needs a backtracking feature psc does not run (${problem})`;
    }
  }
  return undefined;
}

const messageOf = (err: unknown): string =>
  (err as { message?: string } | undefined)?.message ?? String(err);

/** The budget an error reports being over, if it is one (also inside `$eval`'s wrapping). */
function limitOf(err: unknown, limits: Readonly<ExpressionBudget>): string | undefined {
  let e = err as { code?: string; error?: unknown } | undefined;
  for (let i = 0; e && i < 8; i += 1, e = e.error as typeof e) {
    if (e instanceof ExpressionLimitError) return e.message;
    if (e instanceof RangeError) return `ran out of room (${e.message})`;
    if (e.code === 'D1011') return `nested deeper than ${limits.maxDepth} levels`;
    if (e.code === 'D1012') return `ran longer than ${limits.timeoutMs} ms`;
    if (e.code === 'D2014' || e.code === 'D2015') {
      return `a sequence longer than ${limits.maxSequence} items`;
    }
  }
  return undefined;
}

/**
 * Evaluates a platform definition's JSONata (itemsPath, key, mapping, fanOut, ...) within the
 * process's expression budget (`configureExpressions`). A broken expression is the
 * definition's fault, so it fails with the non-retryable `code`, naming `where`; one over its
 * budget fails with `mapping_limit`, naming `where` and the limit, also never retried. Results
 * are not copied (pages can be large): a caller that hashes or compares a value makes it plain
 * JSON itself.
 */
export async function evaluate(
  source: string,
  input: unknown,
  where: string,
  code = 'mapping_failed',
): Promise<unknown> {
  const limits = budget;
  let expr: Expression;
  try {
    expr = compile(source);
  } catch (err) {
    throw new NonRetryableError(code, `${where}: ${messageOf(err)}`);
  }
  try {
    return (await evaluations.run({ budget: limits, output: 0 }, () =>
      expr.evaluate(input),
    )) as unknown;
  } catch (err) {
    const limit = limitOf(err, limits);
    if (limit) {
      throw new NonRetryableError('mapping_limit', `${where}: over its budget: ${limit}`, {
        details: { path: where },
      });
    }
    throw new NonRetryableError(code, `${where}: ${messageOf(err)}`);
  }
}

/** A JSONata result as a list: nothing is empty, a single value is a list of one. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A JSONata result as request or cursor text: scalars as themselves, anything else as JSON. */
export function asText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}
