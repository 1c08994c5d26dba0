import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CollectedDocument } from '@psc/contracts';
import { parseExportCursor, renderExportPage } from '../src/domain/export-page.ts';

const doc = (id: number, data: unknown): CollectedDocument => ({
  id: String(id),
  jobId: '00000000-0000-4000-8000-000000000001',
  childIndex: null,
  platformId: '00000000-0000-4000-8000-000000000002',
  resource: 'r',
  params: {},
  url: 'http://p.test/r',
  fetchedAt: '2026-12-03T00:00:00.000Z',
  workerId: 'w',
  data,
});

/** Pages through `docs` as the RPC does: rows after the cursor's id, `limit` at a time. */
function exportAll(docs: CollectedDocument[], budget: number, limit = 3) {
  const pages: string[] = [];
  let cursor: string | undefined;
  do {
    const from = parseExportCursor(cursor);
    const after = docs.filter(
      (d) => from.afterId === undefined || Number(d.id) > Number(from.afterId),
    );
    const rows = after.slice(0, limit);
    const page = renderExportPage(rows, from, { more: after.length > limit, budget });
    pages.push(page.text);
    cursor = page.nextCursor ?? undefined;
    assert.ok(pages.length < 10_000, 'the export ends');
  } while (cursor);
  return pages;
}

describe('collection export pages', () => {
  const docs = [
    doc(1, { a: 1 }),
    doc(2, { blob: '😀é'.repeat(40) }),
    doc(3, { b: 'x'.repeat(30) }),
    doc(5, { c: '😀'.repeat(25) }),
    doc(9, null),
  ];
  const whole = docs.map((d) => `${JSON.stringify(d)}\n`).join('');

  it('when documents are longer than a page, then the pages join into one line per document, each page within its budget and never splitting a character', () => {
    for (let budget = 40; budget <= 700; budget += 7) {
      const pages = exportAll(docs, budget);
      assert.equal(pages.join(''), whole, `budget ${budget}`);
      for (const text of pages) {
        assert.ok(text.length <= budget, `page of ${text.length} over ${budget}`);
        // Each page is encoded on its own: no lone surrogate at either end.
        assert.equal(Buffer.from(text, 'utf8').toString('utf8'), text);
        assert.ok(!/[\uD800-\uDBFF]$/.test(text) && !/^[\uDC00-\uDFFF]/.test(text));
      }
    }
  });

  it('when a bad cursor is given, then the export starts from the beginning', () => {
    assert.deepEqual(parseExportCursor('x1'), { afterId: undefined, skip: 0 });
    assert.deepEqual(parseExportCursor('12:34'), { afterId: '12', skip: 34 });
  });
});
