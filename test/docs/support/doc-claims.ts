import { existsSync, readdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';

/**
 * What a document in docs/ claims about the code, checked against it: the tests it cites exist
 * under the names it gives, the files it names exist, the `PSC_` settings it names are read, and
 * the figures of its tables can be read cell by cell.
 */

const ROOT = join(import.meta.dirname, '..', '..', '..');

export const readDocument = (name: string): string =>
  readFileSync(join(ROOT, 'docs', name), 'utf8');

/** A cited test file, with the test names quoted after it (none: the file as a whole). */
interface Citation {
  file: string;
  names: string[];
  line: number;
}

/**
 * Every backticked `*.test.ts` path of the document, with the `"…"` names that follow it up to
 * the next path on the same line.
 */
function citations(document: string): Citation[] {
  const found: Citation[] = [];
  document.split('\n').forEach((text, i) => {
    const paths = [...text.matchAll(/`([\w./-]+\.test\.ts)`/g)];
    paths.forEach((m, k) => {
      const end = paths[k + 1]?.index ?? text.length;
      const segment = text.slice(m.index + m[0].length, end);
      const names = [...segment.matchAll(/"([^"]+)"/g)].map((n) => n[1]!);
      found.push({ file: m[1]!, names, line: i + 1 });
    });
  });
  return found;
}

/** The titles of a test file's `it`/`test`/`describe` calls; an interpolation reads as `…`. */
function titles(source: string): string[] {
  const calls = source.matchAll(/\b(?:it|test|describe)\(\s*(['"`])((?:\\.|(?!\1)[\s\S])*)\1/g);
  return [...calls].map((m) =>
    m[2]!
      .replace(/\$\{[^}]*\}/g, '…')
      .replace(/\\(['"`\\])/g, '$1')
      .replace(/\s+/g, ' '),
  );
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether a cited name names a title. In the name, `…` stands for any text (a name ending in it
 * names a title by its start). A title built from a table of cases (its `…`) is named by one
 * case: the text in its place must be written in the test file.
 */
function citesTitle(name: string, title: string, source: string): boolean {
  const cited = new RegExp(`^${name.split('…').map(escape).join('[\\s\\S]*')}$`);
  if (cited.test(title)) return true;
  const cases = new RegExp(`^${title.split('…').map(escape).join('([\\s\\S]+?)')}$`);
  const m = cases.exec(name);
  return m !== null && m.length > 1 && m.slice(1).every((text) => source.includes(text));
}

/**
 * The citations of a document that do not hold: a cited file that does not exist, or a name no
 * test of that file has. Refuses a document with fewer than `atLeast` citations, so a parser
 * that stopped finding them does not pass as "no problem".
 */
function citationProblems(document: string, atLeast: number): string[] {
  const cited = citations(document);
  if (cited.length < atLeast)
    return [`only ${cited.length} citations found (at least ${atLeast}): the parser is off`];
  const problems: string[] = [];
  for (const c of cited) {
    const path = join(ROOT, c.file);
    if (!existsSync(path)) {
      problems.push(`line ${c.line}: ${c.file} does not exist`);
      continue;
    }
    const source = readFileSync(path, 'utf8');
    const known = titles(source);
    for (const name of c.names) {
      if (!known.some((title) => citesTitle(name.replace(/\s+/g, ' '), title, source)))
        problems.push(`line ${c.line}: ${c.file} has no test "${name}"`);
    }
  }
  return problems;
}

/** The backticked source files (`libs/…/x.ts`, `services/…`) a document names that do not exist. */
function missingFiles(document: string): string[] {
  const files = [...document.matchAll(/`((?:libs|services|test|scripts)\/[\w./-]+\.ts)`/g)].map(
    (m) => m[1]!,
  );
  return files.filter((f) => !existsSync(join(ROOT, f)));
}

/** Every `PSC_*` setting the services and libraries read (their config sources). */
function settingsRead(): Set<string> {
  const names = new Set<string>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') visit(path);
      } else if (entry.name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/\b(PSC_[A-Z0-9_]+):/g))
          names.add(m[1]!);
      }
    }
  };
  for (const top of ['libs', 'services']) {
    for (const pkg of readdirSync(join(ROOT, top))) {
      const src = join(ROOT, top, pkg, 'src');
      if (existsSync(src)) visit(src);
    }
  }
  return names;
}

/**
 * The `PSC_` settings a document names that no service reads. A name ending in `_*`
 * (`PSC_WEBHOOK_RETRY_*_MS`) stands for the settings it matches: at least one must be read.
 */
function unreadSettings(document: string): string[] {
  const read = [...settingsRead()];
  const named = new Set([...document.matchAll(/\bPSC_[A-Z0-9_*]+\b/g)].map((m) => m[0]));
  return [...named].filter((n) => {
    const pattern = new RegExp(`^${n.split('*').map(escape).join('[A-Z0-9_]+')}$`);
    return !read.some((r) => pattern.test(r));
  });
}

/**
 * The rows of every table under the heading that starts with `heading` (`### Expressions`, up to
 * the next heading), each as its cells' text, header and separator left out.
 */
export function tableRows(document: string, heading: string): string[][] {
  const start = document.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const rest = document.slice(document.indexOf('\n', start + 1));
  const end = rest.search(/\n#{1,6} /);
  const lines = (end < 0 ? rest : rest.slice(0, end)).split('\n');
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim());
    // The first row of a table is its header, the second its separator.
    if (!inTable) {
      inTable = true;
      continue;
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows;
}

/**
 * The two checks every promise table gets, inside a document's `describe`: the tests it cites
 * exist under those names (at least `atLeast` citations, so a parser gone wrong cannot pass), and
 * the files and PSC_ settings it names exist and are read.
 */
export function citationTests(document: string, atLeast: number): void {
  it('when it names the test that checks a promise, then that file exists and holds a test of that name', () => {
    assert.deepEqual(citationProblems(document, atLeast), []);
  });

  it('when it names a source file or a PSC_ setting, then the file exists and a service reads the setting', () => {
    assert.deepEqual(missingFiles(document), [], 'every file it names exists');
    assert.deepEqual(
      unreadSettings(document),
      [],
      'every PSC_ setting it names is one a service reads',
    );
  });
}
