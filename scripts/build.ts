/**
 * `npm run build`: writes each package's TypeScript (src/ and migrations/) as plain JavaScript
 * under its dist/, which is what psc runs (`node --conditions=psc-dist …/dist/src/main.js`, see
 * `serviceLaunch` in @psc/testing).
 *
 * Why a build at all when Node 24 runs .ts files: type stripping loads a WebAssembly compiler
 * into every process, about 18 MB of RSS per service, which alone broke the 120 MB idle budget
 * (bench/README.md). The sources only use erasable syntax, so each file is transpiled on its
 * own; types are checked by `npm run typecheck`, not here.
 *
 * Incremental (a file is rewritten only when its source is newer) and safe when several
 * processes build at once, as parallel test files do: every file lands by an atomic rename.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { buildConsole } from './console-build.ts';

/**
 * Library packages the services load at run time; @psc/testing is for tests and stays .ts, and
 * the console is a browser app that Vite bundles (scripts/console-build.ts).
 */
const PACKAGE_GROUPS = ['libs', 'services'];
const SKIP_PACKAGES = new Set(['libs/testing', 'libs/console']);
const SOURCE_DIRS = ['src', 'migrations'];

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2024,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  // `./x.ts` → `./x.js`, so the output resolves without Node's TypeScript support.
  rewriteRelativeImportExtensions: true,
};

export interface BuildResult {
  written: number;
  upToDate: number;
  removed: number;
  /** Whether the console (libs/console) was bundled again. */
  console: boolean;
}

const isSource = (file: string): boolean =>
  file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.endsWith('.test.ts');

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

function packagesOf(root: string): string[] {
  return PACKAGE_GROUPS.flatMap((group) =>
    readdirSync(join(root, group), { withFileTypes: true })
      .filter((e) => e.isDirectory() && !SKIP_PACKAGES.has(`${group}/${e.name}`))
      .map((e) => join(root, group, e.name))
      .filter((dir) => existsSync(join(dir, 'package.json'))),
  );
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function buildPackage(pkg: string, result: BuildResult): void {
  const dist = join(pkg, 'dist');
  const expected = new Set<string>();
  for (const sourceDir of SOURCE_DIRS) {
    const from = join(pkg, sourceDir);
    if (!existsSync(from)) continue;
    for (const source of walk(from)) {
      if (!isSource(source)) continue;
      const target = join(dist, relative(pkg, source)).replace(/\.ts$/, '.js');
      expected.add(target);
      if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
        result.upToDate += 1;
        continue;
      }
      const { outputText, diagnostics } = ts.transpileModule(readFileSync(source, 'utf8'), {
        compilerOptions,
        fileName: source,
        reportDiagnostics: true,
      });
      if (diagnostics?.length) {
        const message = ts.flattenDiagnosticMessageText(diagnostics[0]?.messageText ?? '', '\n');
        throw new Error(`${relative(process.cwd(), source)}: ${message}`);
      }
      writeAtomically(target, outputText);
      result.written += 1;
    }
  }
  // A source that was deleted or renamed must not live on in dist/.
  if (!existsSync(dist)) return;
  for (const file of walk(dist)) {
    if (!expected.has(file) && !file.endsWith('.tmp')) {
      rmSync(file, { force: true });
      result.removed += 1;
    }
  }
}

/** Builds every runtime package under `root` (the repository). */
export function build(root: string): BuildResult {
  const result: BuildResult = { written: 0, upToDate: 0, removed: 0, console: false };
  for (const pkg of packagesOf(root)) buildPackage(pkg, result);
  result.console = buildConsole(root);
  return result;
}

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

if (import.meta.main) {
  const started = performance.now();
  const { written, upToDate, removed, console: bundled } = build(repoRoot);
  console.log(
    `build: ${written} written, ${upToDate} up to date, ${removed} removed, console ${bundled ? 'bundled' : 'up to date'} in ${Math.round(performance.now() - started)} ms`,
  );
}
