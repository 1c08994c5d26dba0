import { useState, type ReactNode } from 'react';

/**
 * Paging with an API's cursor: the cursors of the pages shown before this one (the last is this
 * page's), kept per filter, so a view narrowed or widened starts again at the first page instead
 * of asking for a page with another filter's cursor.
 */
export function useCursors(filterKey: string) {
  const [paging, setPaging] = useState({ filterKey, cursors: [] as string[] });
  const cursors = paging.filterKey === filterKey ? paging.cursors : [];
  return {
    /** The cursor of the page to ask for; undefined on the first page. */
    cursor: cursors.at(-1),
    /** 1 on the first page. */
    page: cursors.length + 1,
    back: () => setPaging({ filterKey, cursors: cursors.slice(0, -1) }),
    /** Back to the first page (the filter unchanged, the list is not: a row was added). */
    reset: () => setPaging({ filterKey, cursors: [] }),
    forward: (next: string) => {
      // A second click before that page arrives would skip none: the same cursor.
      if (cursors.at(-1) !== next) setPaging({ filterKey, cursors: [...cursors, next] });
    },
  };
}

export type Cursors = ReturnType<typeof useCursors>;

/**
 * "Newer" and "Older" (or the labels given) under a page, with `summary` before them; shown only
 * when there is another page either way, unless `always`.
 */
export function Pager(props: {
  paging: Cursors;
  nextCursor: string | null | undefined;
  summary?: ReactNode;
  labels?: [back: string, forward: string];
  always?: boolean;
}) {
  const { paging, nextCursor } = props;
  const [back, forward] = props.labels ?? ['Newer', 'Older'];
  if (!props.always && paging.page === 1 && !nextCursor) return null;
  return (
    <div className="pager">
      {props.summary ? <span className="muted">{props.summary}</span> : null}
      <button type="button" disabled={paging.page === 1} onClick={paging.back}>
        {back}
      </button>
      <button
        type="button"
        disabled={!nextCursor}
        onClick={() => nextCursor && paging.forward(nextCursor)}
      >
        {forward}
      </button>
    </div>
  );
}

/** "3 lines, newest first" on the first page, "3 lines, page 2" after it. */
export const pageSummary = (count: number, noun: [string, string], paging: Cursors): string =>
  `${count} ${count === 1 ? noun[0] : noun[1]}${paging.page > 1 ? `, page ${paging.page}` : ', newest first'}`;

/** `26–50 of 200`: the rows of this page among `total`, pages being `pageSize` rows long. */
export const rangeSummary = (
  paging: Cursors,
  pageSize: number,
  count: number,
  total: number,
): string => {
  const first = (paging.page - 1) * pageSize + 1;
  return `${count ? `${first}–${first + count - 1}` : 'none'} of ${total}`;
};
