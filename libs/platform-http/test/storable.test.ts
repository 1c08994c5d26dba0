import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NonRetryableError } from '@psc/core';
import { assertStorable } from '../src/index.ts';

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
});
