export type Item = Record<string, unknown>;

/** How a collection's GET splits its items. `link` is page+size with an RFC 8288 Link header. */
export type PagingStyle = 'none' | 'page' | 'offset' | 'cursor' | 'link';

export interface PagingParamNames {
  page: string;
  size: string;
  offset: string;
  limit: string;
  cursor: string;
}

export interface PageMeta {
  style: PagingStyle;
  /** Items in the (filtered) collection. */
  total: number;
  /** Page number for `page` and `link`, else null. */
  page: number | null;
  /** Index of the first item on this page. */
  offset: number;
  /** Page size asked for (the whole list for `none`). */
  size: number;
  /** What the default body puts in `next`: page number, offset or cursor token; null at the end. */
  next: number | string | null;
  /** Absolute URL of the next page, or null at the end. */
  nextUrl: string | null;
}

export interface CollectionOptions {
  /** Fix the style, or `auto` (default) to pick it per request from the query; see startFakePlatform. */
  paging?: PagingStyle | 'auto';
  /** Renames query parameters, e.g. `{ page: 'p', size: 'per_page' }`. */
  params?: Partial<PagingParamNames>;
  /** Number of the first page. Default 1. */
  firstPage?: number;
  /** Page size when the request names none. Default 10. */
  defaultSize?: number;
  /** Largest page served, whatever the request asks, like real APIs cap it. */
  maxSize?: number;
  /** Enables `GET <path>/<id>` by this field. */
  idField?: string;
  /** Narrows the items per request, e.g. on `?updatedSince=`. Applied before paging. */
  filter?: (item: Item, query: URLSearchParams) => boolean;
  /** Builds the body. Default `{ data: items, total, next }`. */
  render?: (items: Item[], meta: PageMeta) => unknown;
}

export interface PageResult {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

const DEFAULT_PARAMS: PagingParamNames = {
  page: 'page',
  size: 'size',
  offset: 'offset',
  limit: 'limit',
  cursor: 'cursor',
};

/** Serves one GET of a collection according to its options and the request query. */
export function paginate(
  allItems: readonly Item[],
  requestUrl: URL,
  options: CollectionOptions,
): PageResult {
  const query = requestUrl.searchParams;
  const names = { ...DEFAULT_PARAMS, ...options.params };
  const items = options.filter ? allItems.filter((item) => options.filter!(item, query)) : allItems;
  const style = pickStyle(query, names, options.paging ?? 'auto');
  const total = items.length;

  let window: { offset: number; size: number; page: number | null };
  try {
    window = readWindow(style, query, names, options, total);
  } catch (err) {
    return { status: 400, body: { error: (err as Error).message }, headers: {} };
  }
  const { offset, size, page } = window;
  const pageItems = items.slice(offset, offset + size);
  const nextOffset = offset + size < total ? offset + size : null;

  let next: number | string | null = null;
  let nextParams: Record<string, string> = {};
  if (nextOffset !== null && page !== null) {
    next = page + 1;
    nextParams = { [names.page]: String(page + 1), [names.size]: String(size) };
  } else if (nextOffset !== null && style === 'offset') {
    next = nextOffset;
    nextParams = { [names.offset]: String(nextOffset), [names.limit]: String(size) };
  } else if (nextOffset !== null && style === 'cursor') {
    next = encodeCursor(nextOffset);
    nextParams = { [names.cursor]: next, [names.limit]: String(size) };
  }
  const nextUrl = next === null ? null : withQuery(requestUrl, nextParams);
  const meta: PageMeta = { style, total, page, offset, size, next, nextUrl };

  const headers: Record<string, string> = { 'x-total-count': String(total) };
  if (style === 'link' && nextUrl !== null) headers.link = `<${nextUrl}>; rel="next"`;
  const body = options.render
    ? options.render(pageItems, meta)
    : { data: pageItems, total, next: style === 'link' ? nextUrl : next };
  return { status: 200, body, headers };
}

function pickStyle(
  query: URLSearchParams,
  names: PagingParamNames,
  configured: PagingStyle | 'auto',
): PagingStyle {
  if (configured !== 'auto') return configured;
  if (query.get('paging') === 'link') return 'link';
  if (query.has(names.cursor)) return 'cursor';
  if (query.has(names.page) || query.has(names.size)) return 'page';
  if (query.has(names.offset)) return 'offset';
  // A bare limit is how cursor APIs ask for their first page.
  if (query.has(names.limit)) return 'cursor';
  return 'none';
}

function readWindow(
  style: PagingStyle,
  query: URLSearchParams,
  names: PagingParamNames,
  options: CollectionOptions,
  total: number,
): { offset: number; size: number; page: number | null } {
  if (style === 'none') return { offset: 0, size: total, page: null };
  const firstPage = options.firstPage ?? 1;
  const sizeParam = style === 'page' || style === 'link' ? names.size : names.limit;
  let size = intParam(query, sizeParam, options.defaultSize ?? 10, 1);
  if (options.maxSize !== undefined) size = Math.min(size, options.maxSize);

  if (style === 'page' || style === 'link') {
    const page = intParam(query, names.page, firstPage, firstPage);
    return { offset: (page - firstPage) * size, size, page };
  }
  if (style === 'offset') return { offset: intParam(query, names.offset, 0, 0), size, page: null };
  const cursor = query.get(names.cursor);
  return { offset: cursor ? decodeCursor(cursor) : 0, size, page: null };
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(
      `query parameter ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

// Opaque to clients on purpose: they must echo it back, never compute it.
function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeCursor(token: string): number {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString()) as { o?: unknown };
    if (typeof decoded.o === 'number' && Number.isInteger(decoded.o) && decoded.o >= 0) {
      return decoded.o;
    }
  } catch {
    // fall through to the error below
  }
  throw new Error(`invalid cursor ${JSON.stringify(token)}`);
}

function withQuery(base: URL, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}
