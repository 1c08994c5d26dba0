import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NonRetryableError } from '@psc/core';
import { MAX_STORED_DEPTH, assertStorable, assertStorableEach } from '../src/index.ts';

const refusal = (value: unknown, path: string): string => {
  try {
    assertStorable(value, path);
  } catch (err) {
    assert.ok(err instanceof NonRetryableError);
    assert.equal(err.code, 'unstorable_data');
    return err.message;
  }
  return 'stored';
};

describe('platform data PostgreSQL cannot store', () => {
  it('when a value deep in a document holds U+0000, then it is refused naming the first such field by its path; a key holding it names its object', () => {
    assert.equal(
      refusal({ a: [{ b: 'fine' }, { c: 'x\u0000y' }], d: 'z\u0000' }, 'document'),
      'document.a[1].c: holds a NUL character (U+0000), which PostgreSQL cannot store',
    );
    assert.equal(
      refusal(
        [
          [1, 'ok'],
          [true, { 'k\u0000': 1 }],
        ],
        'mapping',
      ),
      'mapping[1][1]: holds a NUL character (U+0000), which PostgreSQL cannot store',
    );
    assert.equal(
      refusal('key\u0000', 'key'),
      'key: holds a NUL character (U+0000), which PostgreSQL cannot store',
    );
  });

  it('when nothing holds U+0000 (other control characters, the text "\\u0000", nulls, numbers), then it passes', () => {
    assert.equal(
      refusal({ a: ['\u0001\t', '\\u0000', null, 0, false, { b: [] }], '': {} }, 'document'),
      'stored',
    );
  });

  it('when a value or a key holds a lone UTF-16 surrogate (JSON "\\ud800" parses to one), then it is refused naming it and its field; a whole pair passes', () => {
    const parsed = JSON.parse('{"a":[{"b":"x\\udc00y"}]}') as unknown;
    assert.equal(
      refusal(parsed, 'document'),
      'document.a[0].b: holds a lone UTF-16 surrogate (U+DC00), which PostgreSQL cannot store',
    );
    assert.equal(
      refusal({ ok: 'fine', ['k\ud800']: 1 }, 'mapping'),
      'mapping: holds a lone UTF-16 surrogate (U+D800), which PostgreSQL cannot store',
    );
    assert.equal(
      refusal('tail\ud83d', 'key'),
      'key: holds a lone UTF-16 surrogate (U+D83D), which PostgreSQL cannot store',
    );
    assert.equal(refusal({ face: '\ud83d\ude00', ['\ud83d\ude00']: 'ok' }, 'document'), 'stored');
  });

  it(`when data nests deeper than ${MAX_STORED_DEPTH} levels, even a million, then it is refused at once naming the field, without overflowing the stack; ${MAX_STORED_DEPTH} levels pass`, () => {
    const nested = (levels: number): unknown =>
      JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);
    assert.equal(refusal({ deep: nested(MAX_STORED_DEPTH - 1) }, 'mapping'), 'stored');
    assert.equal(
      refusal({ deep: nested(MAX_STORED_DEPTH) }, 'mapping'),
      `mapping.deep[0][0]: nests deeper than ${MAX_STORED_DEPTH} levels, more than psc stores`,
    );
    assert.equal(
      refusal({ a: { deep: nested(1_000_000) } }, 'document'),
      `document.a.deep[0]: nests deeper than ${MAX_STORED_DEPTH} levels, more than psc stores`,
    );
  });

  it('when a list of documents is checked, then each is named by its index and nests from its own top', () => {
    const ok = JSON.parse(
      `${'['.repeat(MAX_STORED_DEPTH)}${']'.repeat(MAX_STORED_DEPTH)}`,
    ) as unknown;
    assert.doesNotThrow(() => assertStorableEach([{}, ok], 'document'));
    assert.throws(
      () => assertStorableEach([{}, { p: 'a\ud800' }], 'index'),
      /^NonRetryableError: index\[1\]\.p: holds a lone UTF-16 surrogate/,
    );
  });

  it('when a number is beyond the range of a double (JSON.parse makes 1e400 Infinity), then it is refused naming its field; the largest double passes', () => {
    assert.equal(
      refusal(JSON.parse('{"a":[1,{"b":-1e400}]}'), 'document'),
      'document.a[1].b: holds a number beyond the range of a double (such as 1e400), stored as null',
    );
    assert.equal(
      refusal({ max: Number.MAX_VALUE, min: -Number.MAX_VALUE, nan: 0 }, 'document'),
      'stored',
    );
  });
});
