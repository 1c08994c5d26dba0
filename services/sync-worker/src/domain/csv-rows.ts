/**
 * RFC 4180 rows for `records.export`. Written here rather than with csv-stringify because that
 * library allocated so much per row that exporting 300,000 records took a process from 110 to
 * 185 MB RSS, with its sync and its streaming API alike; these rows are a few string operations.
 */

const NEEDS_QUOTES = /[",\r\n]/;

export type CsvValue = string | number | boolean | null | undefined;

/**
 * One cell: empty for null/undefined, `true`/`false` for booleans (csv-stringify's `1`/empty lost
 * the difference between false and null), quoted when it holds a quote, comma or line break.
 * PostgreSQL's `data ->> 'field'` gives exactly such text, nested values as JSON.
 */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line, CRLF-free: records end with `\n` like the JSONL export. */
export const csvRow = (cells: readonly CsvValue[]): string => `${cells.map(csvCell).join(',')}\n`;
