import { JSONParser } from '@streamparser/json';
import { AppError } from '@psc/core';

/** One item of an import body: its line (JSONL) or position from 1 (JSON array). */
export interface ImportItem {
  line: number;
  item: unknown;
  size: number;
}

/** A line or array element the import could not read; the rest of the body goes on. */
export interface ImportError {
  line: number;
  message: string;
}

/**
 * The items of an import body, read as they arrive: JSON lines split by hand (readline keeps a
 * whole line in memory however long it is) and JSON arrays parsed incrementally, so what the
 * gateway holds of one import is bounded by `maxItemBytes` and a chunk, whatever the body's size.
 * A JSONL line over the bound is reported and skipped; an array element over it ends the import
 * with 413, since the rest of the array cannot be found without reading through it.
 */
export async function* importItems(
  body: AsyncIterable<Buffer | string>,
  isArray: boolean,
  maxItemBytes: number,
  onError: (error: ImportError) => void,
): AsyncGenerator<ImportItem> {
  yield* isArray ? arrayItems(body, maxItemBytes) : jsonLines(body, maxItemBytes, onError);
}

async function* jsonLines(
  body: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
  onError: (error: ImportError) => void,
): AsyncGenerator<ImportItem> {
  let parts: Buffer[] = [];
  let length = 0;
  let oversized = false;
  let line = 0;
  const finish = (): ImportItem | undefined => {
    line += 1;
    const tooLong = oversized;
    const raw = tooLong ? '' : Buffer.concat(parts, length).toString('utf8');
    parts = [];
    length = 0;
    oversized = false;
    if (tooLong) {
      onError({
        line,
        message: `line longer than ${maxLineBytes} bytes (PSC_IMPORT_MAX_ITEM_BYTES)`,
      });
      return undefined;
    }
    if (raw.trim() === '') return undefined;
    try {
      return { line, item: JSON.parse(raw) as unknown, size: raw.length };
    } catch {
      onError({ line, message: 'not valid JSON' });
      return undefined;
    }
  };
  const take = (piece: Buffer): void => {
    if (oversized || piece.length === 0) return;
    if (length + piece.length > maxLineBytes) {
      // The rest of this line is read and dropped: memory stays at the bound.
      oversized = true;
      parts = [];
      length = 0;
      return;
    }
    parts.push(piece);
    length += piece.length;
  };
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      // A line's bytes are copied out of the chunk: a slice would keep the whole chunk alive.
      take(Buffer.from(buf.subarray(start, nl)));
      const item = finish();
      if (item) yield item;
      start = nl + 1;
    }
    take(Buffer.from(buf.subarray(start)));
  }
  if (length > 0 || oversized) {
    const item = finish();
    if (item) yield item;
  }
}

/** JSON's insignificant whitespace: space, tab, LF, CR. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

async function* arrayItems(
  body: AsyncIterable<Buffer | string>,
  maxItemBytes: number,
): AsyncGenerator<ImportItem> {
  const ready: ImportItem[] = [];
  let position = 0;
  let sawStart = false;
  let bytesSinceItem = 0;
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  parser.onValue = ({ value }) => {
    position += 1;
    bytesSinceItem = 0;
    ready.push({ line: position, item: value, size: JSON.stringify(value ?? null).length });
  };
  const bad = (message: string) => new AppError('bad_request', 400, message);
  try {
    for await (const chunk of body) {
      // Bytes go to the parser as they are: it decodes UTF-8 across chunk boundaries.
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!sawStart) {
        const first = buf.findIndex((b) => !WHITESPACE.has(b));
        if (first === -1) continue;
        if (buf[first] !== 0x5b) throw bad('a JSON body must be an array of items');
        sawStart = true;
      }
      bytesSinceItem += buf.length;
      parser.write(buf);
      if (bytesSinceItem > maxItemBytes)
        throw new AppError(
          'payload_too_large',
          413,
          `item ${position + 1} of the JSON array is larger than ${maxItemBytes} bytes (PSC_IMPORT_MAX_ITEM_BYTES); the ${position} before it were imported`,
        );
      yield* ready.splice(0);
    }
    if (!sawStart) throw bad('a JSON body must be an array of items');
    if (!parser.isEnded) parser.end();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw bad(`body is not valid JSON after item ${position}: ${(err as Error).message}`);
  }
  yield* ready.splice(0);
}
