import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExportRow } from '../src/data-access/record.repository.ts';
import { EXPORT_PAGE_CHARS, renderExportPage } from '../src/domain/export-page.ts';

const jsonRow = (key: string, data: string): ExportRow => ({
  key,
  parent_key: '',
  data_text: data,
});

describe('export pages', () => {
  it('when records are rendered as JSONL, then each line is the key followed by the stored fields', () => {
    const page = renderExportPage(
      [jsonRow('b "1"', '{"name": "Booth, \\"one\\"", "n": 1}'), jsonRow('b2', '{}')],
      { format: 'jsonl', header: undefined, limit: 10 },
    );
    const lines = page.text.trimEnd().split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), { key: 'b "1"', name: 'Booth, "one"', n: 1 });
    assert.deepEqual(JSON.parse(lines[1]!), { key: 'b2' });
    assert.equal(page.count, 2);
    assert.equal(page.last, undefined, 'fewer rows than the limit: no next page');
  });

  it('when the first CSV page is rendered, then the header comes first and cells are quoted as needed', () => {
    const page = renderExportPage(
      [{ key: 'k1', parent_key: '', cells: ['Booth, east', 'true', null] }],
      { format: 'csv', header: ['key', 'name', 'open', 'note'], limit: 10 },
    );
    assert.equal(page.text, 'key,name,open,note\nk1,"Booth, east",true,\n');
  });

  it('when the query found one row more than the limit, then the page names where the next starts', () => {
    const rows = ['a', 'b', 'c'].map((k) => jsonRow(k, '{}'));
    const page = renderExportPage(rows, { format: 'jsonl', header: undefined, limit: 2 });
    assert.equal(page.count, 2);
    assert.deepEqual(page.last, { parentKey: '', key: 'b' });
    assert.equal(page.text.split('\n').filter(Boolean).length, 2);
  });

  it('when rows are large, then the page stops at the size budget and the rest follows on the next page', () => {
    const big = `{"blob": "${'x'.repeat(50_000)}"}`;
    const rows = Array.from({ length: 10 }, (_, i) => jsonRow(`k${i}`, big));
    const page = renderExportPage(rows, { format: 'jsonl', header: undefined, limit: 10 });
    assert.ok(page.count < 10, `expected an early stop, got ${page.count} rows`);
    assert.ok(page.text.length < EXPORT_PAGE_CHARS + 60_000);
    assert.deepEqual(page.last, { parentKey: '', key: `k${page.count - 1}` });
  });
});
