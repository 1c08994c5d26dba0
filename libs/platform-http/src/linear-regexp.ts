import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

/**
 * re2js is loaded when the first regular expression is compiled: most processes never meet one,
 * and loading it costs ~6 MB of RSS.
 */
let engine: typeof RE2JS | undefined;
const re2 = (): typeof RE2JS =>
  (engine ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS);

const MAX_CACHED = 500;
const compiled = new Map<string, RE2JS>();

/** Compiles a JavaScript regular expression's source on RE2's linear-time engine; throws when RE2 cannot run it. */
function compileLinear(source: string, ignoreCase: boolean, multiline: boolean): RE2JS {
  const cacheKey = `${ignoreCase ? 'i' : ''}${multiline ? 'm' : ''}/${source}`;
  let pattern = compiled.get(cacheKey);
  if (!pattern) {
    const RE2 = re2();
    const flags = (ignoreCase ? RE2.CASE_INSENSITIVE : 0) | (multiline ? RE2.MULTILINE : 0);
    pattern = RE2.compile(RE2.translateRegExp(source), flags);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(cacheKey, pattern);
  }
  return pattern;
}

/**
 * Why RE2 cannot run a regular expression (a backreference, a lookaround…), or undefined when it
 * can. JSONata regex literals are written by admins but run on platform data, so only patterns
 * that match in linear time are accepted.
 */
export function linearRegExpProblem(regex: RegExp): string | undefined {
  try {
    compileLinear(regex.source, regex.ignoreCase, regex.multiline);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The part of `RegExp` JSONata uses (`lastIndex`, `exec`), on RE2 through re2js, a pure
 * JavaScript port: matching takes time linear in the input whatever the pattern, so a pattern
 * like `/(a+)+$/` cannot stall the process on hostile text the way V8's backtracking engine can.
 * Passed to JSONata as its `RegexEngine`; JSONata builds one per regex evaluation from the
 * `RegExp` its parser made, which is never run.
 */
export class LinearRegExp {
  lastIndex = 0;
  readonly source: string;
  readonly global: boolean;
  readonly #pattern: RE2JS;

  constructor(regex: RegExp) {
    this.source = regex.source;
    this.global = regex.global;
    try {
      this.#pattern = compileLinear(regex.source, regex.ignoreCase, regex.multiline);
    } catch (err) {
      throw new Error(
        `regular expression /${regex.source}/ is not supported by the linear-time engine: ${(err as Error).message}`,
      );
    }
  }

  exec(input: string): RegExpExecArray | null {
    const start = this.global ? this.lastIndex : 0;
    if (start > input.length) {
      this.lastIndex = 0;
      return null;
    }
    const matcher = this.#pattern.matcher(input);
    if (!matcher.find(start)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    for (let g = 0; g <= matcher.groupCount(); g += 1) groups.push(matcher.group(g) ?? undefined);
    const result = Object.assign(groups, { index: matcher.start(), input }) as RegExpExecArray;
    if (this.global) this.lastIndex = matcher.end();
    return result;
  }

  test(input: string): boolean {
    return this.exec(input) !== null;
  }
}
