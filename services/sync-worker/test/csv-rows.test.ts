import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell, csvRow } from '../src/domain/csv-rows.ts';

describe('export CSV rows', () => {
  it('when a cell holds a comma, quote or line break, then it is quoted with quotes doubled', () => {
    assert.equal(csvCell('Booth, east'), '"Booth, east"');
    assert.equal(csvCell('the "big" one'), '"the ""big"" one"');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell('cr\rhere'), '"cr\rhere"');
    assert.equal(csvCell('plain text'), 'plain text');
  });

  it('when a cell is null, a boolean, a number or nested JSON, then each reads back unambiguously', () => {
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(undefined), '');
    assert.equal(csvCell(false), 'false');
    assert.equal(csvCell(true), 'true');
    assert.equal(csvCell(0), '0');
    assert.equal(csvCell(12.5), '12.5');
    assert.equal(csvCell('{"a": 1, "b": "x,y"}'), '"{""a"": 1, ""b"": ""x,y""}"');
    assert.equal(csvCell('[1, 2]'), '"[1, 2]"');
  });

  it('when a row is formatted, then its cells are comma-joined and it ends with a newline', () => {
    assert.equal(csvRow(['k1', 'Booth 1', 3, null, true]), 'k1,Booth 1,3,,true\n');
  });
});
