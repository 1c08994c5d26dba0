import type { ExportRow } from '../data-access/record.repository.ts';
import { csvRow } from './csv-rows.ts';

/**
 * A page's text stops growing at this many characters: even with every character taking three
 * UTF-8 bytes, or quotes doubled by the reply's JSON, the reply stays under the broker's 1 MiB.
 */
export const EXPORT_PAGE_CHARS = 192 * 1024;

export interface RenderedPage {
  text: string;
  count: number;
  /** Where the next page starts; undefined when this page was the last. */
  last: { parentKey: string; key: string } | undefined;
}

/** `{"key": …, <data's fields>}` from the stored JSON text, without parsing it. */
function jsonLine(row: ExportRow): string {
  const data = row.data_text ?? '{}';
  const fields = data.slice(1, -1).trim();
  return `{"key":${JSON.stringify(row.key)}${fields ? `, ${fields}` : ''}}\n`;
}

/**
 * Renders up to `limit` rows as JSONL or CSV lines; `rows` may hold one more, which only says
 * that another page follows. A page also ends early once its text reaches EXPORT_PAGE_CHARS.
 */
export function renderExportPage(
  rows: ExportRow[],
  options: { format: 'jsonl' | 'csv'; header: string[] | undefined; limit: number },
): RenderedPage {
  let text = options.header ? csvRow(options.header) : '';
  let count = 0;
  for (const row of rows.slice(0, options.limit)) {
    text += options.format === 'jsonl' ? jsonLine(row) : csvRow([row.key, ...(row.cells ?? [])]);
    count += 1;
    if (text.length >= EXPORT_PAGE_CHARS) break;
  }
  const lastRow = rows[count - 1];
  const more = count < rows.length;
  return {
    text,
    count,
    last: more && lastRow ? { parentKey: lastRow.parent_key, key: lastRow.key } : undefined,
  };
}
