import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { AppError } from '@psc/core';
import { importItems, type ImportError } from '../src/entry-points/http/import-stream.ts';

/** A body as the socket delivers it: in chunks of `size` bytes, cut anywhere. */
function chunks(text: string, size: number): AsyncIterable<Buffer> {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return Readable.from(pieces);
}

async function read(text: string, isArray: boolean, opts: { chunk?: number; max?: number } = {}) {
  const errors: ImportError[] = [];
  const items: { line: number; item: unknown }[] = [];
  for await (const { line, item } of importItems(
    chunks(text, opts.chunk ?? 7),
    isArray,
    opts.max ?? 1_024,
    (e) => errors.push(e),
  ))
    items.push({ line, item });
  return { items, errors };
}

describe('import bodies read as they arrive', () => {
  it('when JSON lines arrive cut mid-line and mid-character, then each line is one item numbered from 1', async () => {
    const { items, errors } = await read('{"n":"ä€"}\n\n{"n":2}\r\n{"n":3}', false, { chunk: 3 });
    assert.deepEqual(items, [
      { line: 1, item: { n: 'ä€' } },
      { line: 3, item: { n: 2 } },
      { line: 4, item: { n: 3 } },
    ]);
    assert.deepEqual(errors, []);
  });

  it('when a line is longer than the bound, then it is reported and skipped and the next line is read', async () => {
    const long = JSON.stringify({ pad: 'x'.repeat(5_000) });
    const { items, errors } = await read(`{"n":1}\n${long}\n{"n":3}\n`, false, { chunk: 100 });
    assert.deepEqual(
      items.map((i) => i.line),
      [1, 3],
    );
    assert.deepEqual(errors, [
      { line: 2, message: 'line longer than 1024 bytes (PSC_IMPORT_MAX_ITEM_BYTES)' },
    ]);
  });

  it('when a JSON array arrives in pieces, then its items come out one by one, numbered from 1', async () => {
    const { items } = await read(' [{"a":[1,{"b":"ü"}]}, 2, "three", null]', true, { chunk: 2 });
    assert.deepEqual(items, [
      { line: 1, item: { a: [1, { b: 'ü' }] } },
      { line: 2, item: 2 },
      { line: 3, item: 'three' },
      { line: 4, item: null },
    ]);
  });

  it('when an array item is larger than the bound, then 413 names the item and the limit', async () => {
    const body = `[{"n":1},{"pad":"${'x'.repeat(5_000)}"}]`;
    await assert.rejects(read(body, true, { chunk: 256 }), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.status, 413);
      assert.match(err.message, /item 2 of the JSON array is larger than 1024 bytes/);
      return true;
    });
  });

  it('when a JSON body is not an array or is cut short, then 400 says so', async () => {
    await assert.rejects(read('{"a":1}', true), /must be an array of items/);
    await assert.rejects(read('[{"a":1},', true), /not valid JSON after item 1/);
  });
});
