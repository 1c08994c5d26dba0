import type { CollectedDocument } from '@psc/contracts';

/**
 * A page's text stops growing at this many characters: even with every character taking three
 * UTF-8 bytes, or quotes escaped again by the reply's JSON, the reply stays under the broker's
 * 1 MiB.
 */
export const EXPORT_PAGE_CHARS = 192 * 1024;

/** Where an export page starts: after a document id, `skip` characters into the next line. */
export interface ExportCursor {
  afterId: string | undefined;
  skip: number;
}

export function parseExportCursor(cursor: string | undefined): ExportCursor {
  const m = cursor ? /^(\d{1,19})(?::(\d{1,12}))?$/.exec(cursor) : null;
  if (!m) return { afterId: undefined, skip: 0 };
  return { afterId: m[1], skip: Number(m[2] ?? 0) };
}

const formatCursor = (c: ExportCursor) => `${c.afterId ?? '0'}${c.skip > 0 ? `:${c.skip}` : ''}`;

/**
 * Renders documents as JSONL lines from `from`. A page ends at `limit` documents or once its text
 * reaches `budget` characters; a line longer than a whole page is sent in budget-sized pieces
 * (never splitting a surrogate pair), so a document of any stored size can be exported.
 */
export function renderExportPage(
  docs: CollectedDocument[],
  from: ExportCursor,
  options: { more: boolean; budget?: number },
): { text: string; count: number; nextCursor: string | null } {
  const budget = options.budget ?? EXPORT_PAGE_CHARS;
  let text = '';
  let count = 0;
  let afterId = from.afterId;
  for (const [i, doc] of docs.entries()) {
    const skip = i === 0 ? from.skip : 0;
    const line = `${JSON.stringify(doc)}\n`.slice(skip);
    if (text.length + line.length > budget && text.length > 0) {
      return { text, count, nextCursor: formatCursor({ afterId, skip: 0 }) };
    }
    if (line.length > budget) {
      let end = budget;
      const code = line.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end -= 1;
      return {
        text: line.slice(0, end),
        count,
        nextCursor: formatCursor({ afterId, skip: skip + end }),
      };
    }
    text += line;
    count += 1;
    afterId = doc.id;
  }
  return {
    text,
    count,
    nextCursor: options.more ? formatCursor({ afterId, skip: 0 }) : null,
  };
}
