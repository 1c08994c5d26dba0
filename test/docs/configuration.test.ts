/**
 * README's Configuration table, .env.example and docs/CONFIGURATION.md against the code. The
 * services' truth comes from their parsers, not their source text: each `loadConfig` (and the
 * tracing bootstrap's `batchOptionsFromEnv`) runs on an env that records the names it reads; a
 * documented default must leave the parsed config as it is; a range is found by asking the parser
 * which values it accepts. Only the names `register.ts` and the scripts read themselves are taken
 * from their text. A name a parser reads only when another is set would go unseen: none does.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { QUEUE_SPECS, SERVICES, type QueueSpec, type ServiceName } from '@psc/contracts';
import { loadConfig as collector } from '../../services/collector/src/config.ts';
import { loadConfig as gateway } from '../../services/gateway/src/config.ts';
import { loadConfig as platformRegistry } from '../../services/platform-registry/src/config.ts';
import { loadConfig as scheduler } from '../../services/scheduler/src/config.ts';
import { loadConfig as syncWorker } from '../../services/sync-worker/src/config.ts';
import { batchOptionsFromEnv } from '../../libs/telemetry/src/batch-options.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Env = Record<string, string | undefined>;

/** A piece of code that parses the environment, and the services that run it. */
interface Parser {
  name: string;
  services: readonly ServiceName[];
  parse: (env: Env) => unknown;
}

const PARSERS: Parser[] = [
  { name: 'gateway', services: ['gateway'], parse: gateway },
  { name: 'platform-registry', services: ['platform-registry'], parse: platformRegistry },
  { name: 'scheduler', services: ['scheduler'], parse: scheduler },
  { name: 'sync-worker', services: ['sync-worker'], parse: syncWorker },
  { name: 'collector', services: ['collector'], parse: collector },
  // Every service starts under `node --import @psc/telemetry/register` (npm start, the image).
  { name: 'telemetry (OTEL_BSP_*)', services: SERVICES, parse: batchOptionsFromEnv },
];

/** The least a service needs to start: its required keys (two different ones). */
const BASE: Env = {
  PSC_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'),
  PSC_WORKER_SECRET_KEY: Buffer.alloc(32, 2).toString('base64'),
};

/** The variables `parse` looks at, recorded by the env it is given. */
function namesRead(parse: Parser['parse']): Set<string> {
  const names = new Set<string>();
  const record = (key: string | symbol) => typeof key === 'string' && names.add(key);
  const env = new Proxy(
    { ...BASE },
    {
      get: (target, key): unknown => (record(key), Reflect.get(target, key)),
      has: (target, key) => (record(key), Reflect.has(target, key)),
    },
  );
  parse(env);
  return names;
}

/** The variables `libs/telemetry/src/register.ts` reads itself, before any parser runs. */
function registerReads(): string[] {
  const source = readFileSync(join(ROOT, 'libs/telemetry/src/register.ts'), 'utf8');
  return [...source.matchAll(/process\.env(?:\.(\w+)|\[['"](\w+)['"]\])/g)].map(
    (m) => (m[1] ?? m[2])!,
  );
}

/** Which services read each variable (the table's "Services" column). */
function readers(): Map<string, Set<ServiceName>> {
  const byName = new Map<string, Set<ServiceName>>();
  const add = (name: string, services: readonly ServiceName[]) => {
    const set = byName.get(name) ?? new Set<ServiceName>();
    for (const s of services) set.add(s);
    byName.set(name, set);
  };
  for (const p of PARSERS) for (const name of namesRead(p.parse)) add(name, p.services);
  for (const name of registerReads()) add(name, SERVICES);
  return byName;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function run(parser: Parser, env: Env): Outcome {
  try {
    return { ok: true, value: parser.parse({ ...BASE, ...env }) };
  } catch (error) {
    return { ok: false, error };
  }
}

const accepts = (parser: Parser, name: string, value: string) => run(parser, { [name]: value }).ok;

/**
 * `value` with every part that differs between two runs on the same env (a random replica id)
 * replaced, so configs can be compared.
 */
function masked(value: unknown, a: unknown, b: unknown): unknown {
  if (isDeepStrictEqual(a, b)) return value;
  const isRecord = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && !Buffer.isBuffer(x);
  if (isRecord(value) && isRecord(a) && isRecord(b)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, masked(v, a[k], b[k])]));
  }
  return '<differs between runs>';
}

/** Whether setting `name` to `value` leaves the parser's result as with `name` unset. */
function isDefault(parser: Parser, name: string, value: string): boolean {
  const [a, b] = [parser.parse(BASE), parser.parse(BASE)];
  const set = run(parser, { [name]: value });
  return set.ok && isDeepStrictEqual(masked(set.value, a, b), masked(a, a, b));
}

interface Range {
  min?: number;
  max?: number;
}

const LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The whole numbers `parse` accepts for `name`, as a range (an end it does not bound is left
 * out); undefined when the variable is not a number (it takes `x`, or no seed number).
 */
function numericRange(parser: Parser, name: string, seeds: string[]): Range | undefined {
  if (accepts(parser, name, 'x')) return undefined;
  const seed = seeds
    .map(Number)
    .find((n) => Number.isSafeInteger(n) && accepts(parser, name, `${n}`));
  if (seed === undefined) return undefined;
  const ok = (n: number) => accepts(parser, name, `${n}`);
  /** The last accepted number from `inside` towards `outside` (accepted ones form one range). */
  const edge = (inside: number, outside: number): number => {
    while (Math.abs(outside - inside) > 1) {
      const mid = Math.trunc((inside + outside) / 2);
      if (ok(mid)) inside = mid;
      else outside = mid;
    }
    return inside;
  };
  const range: Range = {};
  if (!ok(-LIMIT)) range.min = edge(seed, -LIMIT);
  if (!ok(LIMIT)) range.max = edge(seed, LIMIT);
  return range;
}

/** The lengths of `a…` strings `parse` accepts for `name`. */
function lengthRange(parser: Parser, name: string): Range {
  const ok = (n: number) => accepts(parser, name, 'a'.repeat(n));
  let min = 1;
  while (min < 10_000 && !ok(min)) min++;
  let max = min;
  while (max < 10_000 && ok(max + 1)) max++;
  return { min, ...(max < 10_000 ? { max } : {}) };
}

/** One row of README's Configuration table. */
interface Row {
  name: string;
  services: ServiceName[];
  defaultCell: string;
  line: number;
}

function readmeRows(): Row[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.indexOf('## Configuration');
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const rows: Row[] = [];
  for (let i = start; i < end; i++) {
    const text = lines[i]!;
    if (!text.startsWith('| `')) continue;
    const cells = text
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const names = [...cells[0]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
    assert.equal(names.length, 1, `README.md:${i + 1}: one variable per row (${cells[0]})`);
    const servicesCell = cells[1]!;
    const services = /^all\b/.test(servicesCell)
      ? [...SERVICES]
      : SERVICES.filter((s) => new RegExp(`(^|[\\s,])${s}(?=[\\s,]|$)`).test(servicesCell));
    rows.push({ name: names[0]!, services, defaultCell: cells[2]!, line: i + 1 });
  }
  assert.ok(rows.length >= 60, `only ${rows.length} rows found in README.md: the parser is off`);
  return rows;
}

/**
 * The default a cell states as a value: its first backticked token that is a value (no `<…>`
 * placeholder, no space), `''` for "empty"; none for "unset" or "required".
 */
function documentedDefault(cell: string): string | undefined {
  if (/^(unset|\*\*required)/.test(cell)) return undefined;
  if (/^empty\b/.test(cell)) return '';
  return [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!).find((t) => !/[<\s]/.test(t));
}

/** The range a cell states: `(min–max)`, `≥ min`, `≤ max` (numbers may carry commas). */
function documentedRange(cell: string): Range & { unit?: string } {
  const text = cell.replace(/`[^`]*`/g, '');
  const num = (s: string) => Number(s.replace(/,/g, ''));
  const range: Range & { unit?: string } = {};
  const both = /(\d[\d,]*)\s*–\s*(\d[\d,]*)(\s+characters)?/.exec(text);
  if (both) {
    range.min = num(both[1]!);
    range.max = num(both[2]!);
    if (both[3]) range.unit = 'characters';
  }
  const min = /≥\s*(\d[\d,]*)(\s+characters)?/.exec(text);
  if (min) {
    range.min = num(min[1]!);
    if (min[2]) range.unit = 'characters';
  }
  const max = /≤\s*(\d[\d,]*)/.exec(text);
  if (max) range.max = num(max[1]!);
  return range;
}

const showRange = (r: Range) => `${r.min ?? '…'}–${r.max ?? '…'}`;

/** `.env.example`'s `# NAME=value` lines, with the services their section is about. */
interface ExampleLine {
  name: string;
  value: string;
  services: readonly ServiceName[];
  section: string;
  line: number;
}

function envExample(): ExampleLine[] {
  const lines = readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n');
  const found: ExampleLine[] = [];
  let section = '';
  let services: readonly ServiceName[] = [];
  lines.forEach((text, i) => {
    const header = /^# --- (.+?) -*$/.exec(text);
    if (header) {
      section = header[1]!;
      // The section's subject: its title before any file reference or explanation.
      const subject = section.split(/[(:]/)[0]!;
      services = /^(common|tracing)\b/.test(subject)
        ? SERVICES
        : SERVICES.filter((s) => new RegExp(`(^|\\s)${s}(?=\\s|$)`).test(subject));
      return;
    }
    const entry = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(text);
    if (entry) found.push({ name: entry[1]!, value: entry[2]!, services, section, line: i + 1 });
  });
  return found;
}

/** The parsers that read `name`, for the given services. */
function parsersReading(name: string, services: readonly ServiceName[]): Parser[] {
  return PARSERS.filter(
    (p) => p.services.some((s) => services.includes(s)) && namesRead(p.parse).has(name),
  );
}

/** Computed once, inside the first test that needs it, so a parse error fails a test. */
const once = <T>(make: () => T): (() => T) => {
  let value: { v: T } | undefined;
  return () => (value ??= { v: make() }).v;
};

describe('README.md, Configuration, and .env.example', () => {
  const rowsOnce = once(readmeRows);
  const readOnce = once(readers);

  it('when a service reads a variable, then the table has a row for it, and every row names a variable a service reads', () => {
    const [rows, read] = [rowsOnce(), readOnce()];
    const documented = new Set(rows.map((r) => r.name));
    const problems = [
      ...[...read.keys()]
        .filter((n) => !documented.has(n))
        .map((n) => `${n}: read by ${[...read.get(n)!].join(', ')} but not in the table`),
      ...rows
        .filter((r) => !read.has(r.name))
        .map((r) => `${r.name} (README.md:${r.line}): in the table but no service reads it`),
    ];
    assert.deepEqual(problems, []);
  });

  it('when a row names the services that read a variable, then exactly those read it', () => {
    const [rows, read] = [rowsOnce(), readOnce()];
    const problems = rows
      .filter((r) => read.has(r.name))
      .flatMap((r) => {
        const actual = SERVICES.filter((s) => read.get(r.name)!.has(s));
        return isDeepStrictEqual(
          actual,
          SERVICES.filter((s) => r.services.includes(s)),
        )
          ? []
          : [
              `${r.name} (README.md:${r.line}): Services says ${r.services.join(', ') || 'none'}, read by ${actual.join(', ')}`,
            ];
      });
    assert.deepEqual(problems, []);
  });

  it('when a row states a default, then setting the variable to it changes no service’s config', () => {
    const rows = rowsOnce();
    const problems: string[] = [];
    let checked = 0;
    for (const row of rows) {
      const perService = [
        ...row.defaultCell.matchAll(
          /\b(gateway|platform-registry|scheduler|sync-worker|collector) (\d+)/g,
        ),
      ];
      for (const parser of parsersReading(row.name, SERVICES)) {
        const stated =
          perService.find((m) => parser.services.includes(m[1] as ServiceName))?.[2] ??
          (perService.length ? undefined : documentedDefault(row.defaultCell));
        if (stated === undefined) continue;
        checked++;
        if (!isDefault(parser, row.name, stated))
          problems.push(
            `${row.name} (README.md:${row.line}): the default '${stated}' is not ${parser.name}'s`,
          );
      }
    }
    assert.ok(checked >= 60, `only ${checked} defaults checked: the parser is off`);
    assert.deepEqual(problems, []);
  });

  it('when a variable is required, then the table says so, and a service refuses to start without it, naming it', () => {
    const rows = rowsOnce();
    const problems: string[] = [];
    for (const row of rows) {
      const saysRequired = row.defaultCell.startsWith('**required**');
      for (const parser of parsersReading(row.name, SERVICES)) {
        const without = run(parser, { [row.name]: undefined });
        const required = !without.ok;
        if (required !== saysRequired)
          problems.push(
            `${row.name} (README.md:${row.line}): ${required ? 'required' : 'optional'} in ${parser.name}, the table says ${saysRequired ? 'required' : 'not'}`,
          );
        if (!without.ok && !String((without.error as Error).message).includes(row.name))
          problems.push(`${row.name}: ${parser.name}'s error when it is unset does not name it`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('when the code bounds a number, then the table states the same range (and no range the code does not hold)', () => {
    const rows = rowsOnce();
    const problems: string[] = [];
    let checked = 0;
    for (const row of rows) {
      const stated = documentedRange(row.defaultCell);
      // A prefetch is bounded below by its concurrency: "at least the concurrency".
      const spec: QueueSpec | undefined = Object.values<QueueSpec>(QUEUE_SPECS).find(
        (q) => q.prefetch?.env === row.name,
      );
      if (spec?.concurrency && /at least the concurrency/.test(row.defaultCell))
        stated.min = spec.concurrency.default;
      // The scheduler's lease is bounded below by its tick (1000 ms by default): "more than a tick".
      if (/more than a tick/.test(row.defaultCell)) stated.min = 1_001;
      for (const parser of parsersReading(row.name, SERVICES)) {
        const code =
          stated.unit === 'characters'
            ? lengthRange(parser, row.name)
            : numericRange(parser, row.name, [
                documentedDefault(row.defaultCell) ?? '',
                '1',
                '0',
                '1000',
                '100000',
              ]);
        if (code === undefined) {
          if (stated.min !== undefined || stated.max !== undefined)
            problems.push(
              `${row.name} (README.md:${row.line}): states ${showRange(stated)}, but ${parser.name} does not read it as a number`,
            );
          continue;
        }
        checked++;
        if (code.min !== stated.min || code.max !== stated.max)
          problems.push(
            `${row.name} (README.md:${row.line}): states ${showRange(stated)}, ${parser.name} accepts ${showRange(code)}`,
          );
      }
    }
    assert.ok(checked >= 60, `only ${checked} ranges checked: the parser is off`);
    assert.deepEqual(problems, []);
  });

  it('when a value is refused, then the error is one line that names the variable', () => {
    const problems: string[] = [];
    const bad = ['x', '-1', '1.5', '1e400', 'amqp://[', 'postgres://[', 'http://[', '1\n2'];
    for (const parser of PARSERS) {
      for (const name of namesRead(parser.parse)) {
        for (const value of bad) {
          const outcome = run(parser, { [name]: value });
          if (outcome.ok) continue;
          const { error } = outcome;
          const message = error instanceof Error ? error.message : String(error);
          // runMain prints a ConfigError's message as it is; anything else as "cannot start: …".
          const serviceParser = parser.services.length === 1;
          if (serviceParser && !(error instanceof Error && error.name === 'ConfigError'))
            problems.push(
              `${name}=${JSON.stringify(value)}: ${parser.name} threw ${String(error)}, not a ConfigError`,
            );
          if (!message.includes(name) || message.includes('\n'))
            problems.push(
              `${name}=${JSON.stringify(value)}: ${parser.name} says ${JSON.stringify(message)}`,
            );
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('when a variable is set but empty (`NAME=` in a .env file), then it counts as unset', () => {
    const problems: string[] = [];
    for (const parser of PARSERS) {
      const unset = masked(parser.parse(BASE), parser.parse(BASE), parser.parse(BASE));
      for (const name of namesRead(parser.parse)) {
        if (name in BASE) {
          if (run(parser, { [name]: '' }).ok)
            problems.push(`${name}= : ${parser.name} starts without it`);
        } else if (!isDefault(parser, name, '')) {
          const outcome = run(parser, { [name]: '' });
          problems.push(
            `${name}= : ${parser.name} ${outcome.ok ? `reads it as ${JSON.stringify(outcome.value)}, not as unset ${JSON.stringify(unset)}`.slice(0, 300) : `refuses it: ${String(outcome.error)}`}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('when a service reads a variable, then .env.example lists it', () => {
    const read = readOnce();
    const listed = new Set(envExample().map((e) => e.name));
    assert.deepEqual(
      [...read.keys()].filter((n) => !listed.has(n)).map((n) => `${n} is not in .env.example`),
      [],
    );
  });

  it('when .env.example lists a variable under a service, then that service reads it, and its value is the default', () => {
    const read = readOnce();
    const problems: string[] = [];
    for (const e of envExample()) {
      if (e.services.length === 0) continue;
      const where = `.env.example:${e.line} (${e.section.split(/[(:]/)[0]!.trim()})`;
      for (const service of e.services) {
        if (!read.get(e.name)?.has(service))
          problems.push(`${where}: ${service} does not read ${e.name}`);
      }
      if (e.value === '') continue;
      for (const parser of parsersReading(e.name, e.services)) {
        if (!isDefault(parser, e.name, e.value))
          problems.push(`${where}: ${e.name}=${e.value} is not ${parser.name}'s default`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('when code in services/ or libs/ reads process.env, then it is a known reader (a composition root, tracing, the CLI or the test harness)', () => {
    const problems: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'dist', 'test'].includes(entry.name)) visit(path);
          continue;
        }
        if (!/\.tsx?$/.test(entry.name)) continue;
        const file = relative(ROOT, path);
        const source = readFileSync(path, 'utf8');
        if (!source.includes('process.env')) continue;
        if (/^services\/[\w-]+\/src\/(main|migrate)\.ts$/.test(file)) {
          // A composition root hands the whole env to its parser and reads nothing itself.
          if (/process\.env(\.|\[)/.test(source))
            problems.push(`${file} reads a variable itself: parse it in config.ts`);
        } else if (
          file !== 'libs/telemetry/src/register.ts' &&
          file !== 'libs/cli/src/main.ts' &&
          !file.startsWith('libs/testing/src/')
        ) {
          problems.push(`${file} reads process.env: parse it in the service's config.ts`);
        }
      }
    };
    for (const top of ['libs', 'services']) {
      for (const pkg of readdirSync(join(ROOT, top))) {
        const src = join(ROOT, top, pkg, 'src');
        if (existsSync(src)) visit(src);
      }
    }
    assert.deepEqual(problems, []);
  });
});

/** A file's text, or every file's under a folder (no node_modules, dist or tests). */
function sourceText(path: string): string {
  const full = join(ROOT, path);
  if (!existsSync(full)) return '';
  if (!statSync(full).isDirectory()) return readFileSync(full, 'utf8');
  return readdirSync(full)
    .filter((name) => !['node_modules', 'dist', 'test'].includes(name))
    .map((name) => sourceText(join(path, name)))
    .join('\n');
}

/** docs/CONFIGURATION.md's sections: the files the heading names, and the table's variables. */
function configurationSections(): { title: string; sources: string[]; names: string[] }[] {
  const document = readFileSync(join(ROOT, 'docs/CONFIGURATION.md'), 'utf8');
  return document
    .split(/^## /m)
    .slice(1)
    .map((section) => {
      const title = section.slice(0, section.indexOf('\n'));
      const sources = (title.split(' — ')[1] ?? '').split(',').map((s) => s.trim());
      const names = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!);
      return { title, sources, names };
    });
}

describe('docs/CONFIGURATION.md', () => {
  it('when a section names the script it covers, then its table lists exactly the variables that script reads', () => {
    const problems: string[] = [];
    const scripts = configurationSections().filter((s) =>
      /^scripts\/[\w-]+\.ts$/.test(s.sources[0]!),
    );
    assert.ok(scripts.length >= 2, 'the npm start and demo platform sections');
    for (const { title, sources, names } of scripts) {
      const text = readFileSync(join(ROOT, sources[0]!), 'utf8');
      // Ports go through scripts/env-port.ts, which reads the variable it is given.
      const read = new Set(
        [
          ...text.matchAll(/process\.env(?:\.(\w+)|\[['"](\w+)['"]\])|portFromEnv\(['"](\w+)['"]/g),
        ].map((m) => (m[1] ?? m[2] ?? m[3])!),
      );
      for (const n of read)
        if (!names.includes(n)) problems.push(`${title}: ${n} is read but not listed`);
      for (const n of names)
        if (!read.has(n)) problems.push(`${title}: ${n} is listed but not read`);
    }
    assert.deepEqual(problems, []);
  });

  it('when a section lists a variable, then a file it names uses it', () => {
    const problems: string[] = [];
    for (const { title, sources, names } of configurationSections()) {
      const text = sources.map(sourceText).join('\n');
      assert.ok(text.length > 0, `${title}: names no file that exists`);
      for (const n of names)
        if (!new RegExp(`\\b${n}\\b`).test(text))
          problems.push(`${title}: no file it names uses ${n}`);
    }
    assert.deepEqual(problems, []);
  });
});
