/**
 * RFC 4180 rows for `records.export`. Written here rather than with csv-stringify because that
 * library allocated so much per row that exporting 300,000 records took a process from 110 to
 * 185 MB RSS, with its sync and its streaming API alike; these rows are a few string operations.
 */

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection"):
 * `=`, `+`, `-`, `@`, tab and CR, and the full-width forms Excel also accepts (csv-stringify's
 * `escape_formulas` list).
 */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** A JSON number such as `-12.5`: a spreadsheet reads it as that number, never as a formula. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

export type CsvValue = string | number | boolean | null | undefined;

/**
 * One cell: empty for null/undefined, `true`/`false` for booleans (csv-stringify's `1`/empty lost
 * the difference between false and null), quoted when it holds a quote, comma or line break.
 * PostgreSQL's `data ->> 'field'` gives exactly such text, nested values as JSON. Text a
 * spreadsheet would run as a formula (platform data is not trusted) gets a leading `'` and
 * quotes, so it shows as the text it is; plain numbers such as `-5` stay numbers.
 */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  if (FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) {
    return `"'${text.replaceAll('"', '""')}"`;
  }
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line, CRLF-free: records end with `\n` like the JSONL export. */
export const csvRow = (cells: readonly CsvValue[]): string => `${cells.map(csvCell).join(',')}\n`;
