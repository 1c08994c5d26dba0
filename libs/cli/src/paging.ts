import type { Command } from 'commander';
import { call, eachPage, type Answer, type Api, type Page, type PageQuery } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import type { Output } from './output.ts';
import { intArg } from './refs.ts';

/**
 * The most rows `--all` reads into memory: 20 pages of 500, 2,000 rows a screen could never show
 * anyway, and a few megabytes of JSON. A list past it fails instead of growing without bound.
 */
const MAX_ALL_ROWS = 10_000;

/** How one list command pages: the same options and the same "more" line on every list. */
export interface Paging {
  /** The route's largest page (500; the logs' 1,000). */
  max: number;
  /** Rows of one page when -n is not given. */
  default: number;
  /** What the rows are, for messages ("schedules"). */
  rows: string;
  /** Offers `--all` (follow every cursor): for lists a user needs whole, not histories. */
  all?: boolean;
  /** The "more" line's first word(s), e.g. "older lines" for a newest-first list. Default "more". */
  more?: string;
}

/** The options `withPaging` declares, as commander hands them to the action. */
export interface PagingOptions {
  limit: number;
  cursor?: string;
  all?: boolean;
}

/** Declares `-n, --limit`, `--cursor` (and `--all`) on a list command. */
export function withPaging(command: Command, paging: Paging): Command {
  command
    .option(
      '-n, --limit <n>',
      paging.all
        ? `at most this many (1–${paging.max}); with --all, per page read`
        : `at most this many (1–${paging.max})`,
      intArg(1, paging.max),
      paging.default,
    )
    .option('--cursor <cursor>', 'the page after the one that printed this cursor');
  if (paging.all) {
    command.option(
      '--all',
      `every page, following the cursors (at most ${MAX_ALL_ROWS.toLocaleString('en')} ${paging.rows})`,
    );
  }
  return command;
}

/**
 * The page the options ask for; with `--all`, every page from `--cursor` on as one page without
 * a `nextCursor`. Past MAX_ALL_ROWS rows `--all` fails (exit 1) rather than hold them all.
 */
export async function readList<P extends Page<unknown>>(
  api: Api,
  paging: Paging,
  options: PagingOptions,
  fetchPage: (query: PageQuery) => Promise<Answer<P>>,
): Promise<P> {
  const first = { limit: options.limit, ...(options.cursor ? { cursor: options.cursor } : {}) };
  if (!options.all) return call(api, fetchPage(first));
  const items: unknown[] = [];
  let last: P | undefined;
  for await (const page of eachPage(api, fetchPage, first)) {
    items.push(...page.items);
    if (items.length > MAX_ALL_ROWS) {
      throw new CliError(
        `more than ${MAX_ALL_ROWS.toLocaleString('en')} ${paging.rows}: --all reads no more than that`,
        {
          exitCode: EXIT.failed,
          hint: `Narrow the list with its filters (see --help), or read it a page at a time with -n ${paging.max} and --cursor.`,
        },
      );
    }
    last = page;
  }
  return { ...last!, items, nextCursor: null };
}

/** A word a shell passes on as it is, quoted when it would not be. */
const shellWord = (text: string): string =>
  /^[\w.:=+/@%-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;

/** After a table: how to read on, when the list goes on past this page. */
export function printMore(out: Output, paging: Paging, page: Page<unknown>): void {
  if (!page.nextCursor) return;
  const all = paging.all ? `, or every page with --all` : '';
  out.line(
    `(${paging.more ?? 'more'}: the same with --cursor ${shellWord(page.nextCursor)}${all})`,
  );
}
