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

  it('when a cell starts with a formula character, then it is prefixed with a quote mark and quoted so a spreadsheet shows it as text', () => {
    assert.equal(
      csvCell('=HYPERLINK("http://x.test","click")'),
      '"\'=HYPERLINK(""http://x.test"",""click"")"',
    );
    assert.equal(csvCell('+1+cmd|/C calc!A0'), '"\'+1+cmd|/C calc!A0"');
    assert.equal(csvCell('-2+3'), '"\'-2+3"');
    assert.equal(csvCell('@SUM(A1:A9)'), '"\'@SUM(A1:A9)"');
    assert.equal(csvCell('\t=1+1'), '"\'\t=1+1"');
    assert.equal(csvCell('\r=1+1'), '"\'\r=1+1"');
    assert.equal(csvCell('\uFF1D1+1'), '"\'\uFF1D1+1"');
    // Only the first character counts, and plain numbers stay numbers.
    assert.equal(csvCell('a=1'), 'a=1');
    assert.equal(csvCell('-5'), '-5');
    assert.equal(csvCell('-12.5e+3'), '-12.5e+3');
    assert.equal(csvCell(-7), '-7');
  });

  it('when a formula sits in the key or a header, then the row escapes it like any cell', () => {
    assert.equal(csvRow(['=1+1', 'ok', '@x']), '"\'=1+1",ok,"\'@x"\n');
  });

  it('when a row is formatted, then its cells are comma-joined and it ends with a newline', () => {
    assert.equal(csvRow(['k1', 'Booth 1', 3, null, true]), 'k1,Booth 1,3,,true\n');
  });
});
