import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCUMENT = join(ROOT, 'docs', 'RELIABILITY.md');

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

describe('docs/RELIABILITY.md', () => {
  const document = readFileSync(DOCUMENT, 'utf8');

  it('when it names the test that checks a promise, then that file exists and holds a test of that name', () => {
    const cited = citations(document);
    assert.ok(cited.length >= 40, `only ${cited.length} citations found: the parser is off`);
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
    assert.deepEqual(problems, []);
  });

  it('when it names a source file or a PSC_ setting, then the file exists and a service reads the setting', () => {
    const files = [...document.matchAll(/`((?:libs|services|test|scripts)\/[\w./-]+\.ts)`/g)].map(
      (m) => m[1]!,
    );
    assert.deepEqual(
      files.filter((f) => !existsSync(join(ROOT, f))),
      [],
      'every file it names exists',
    );
    const read = settingsRead();
    const named = new Set([...document.matchAll(/\bPSC_[A-Z0-9_]+\b/g)].map((m) => m[0]));
    assert.deepEqual(
      [...named].filter((n) => !read.has(n)),
      [],
      'every PSC_ setting it names is one a service reads',
    );
  });
});
