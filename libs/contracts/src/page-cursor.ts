import { z } from 'zod';
import { BadRequestError } from '@psc/core';

/** Text PostgreSQL can hold (no NUL), as cursor fields are compared in SQL. */
export const cursorText = z
  .string()
  .max(2_000)
  .refine((s) => !s.includes('\u0000'));

/**
 * An opaque page cursor: the sort key of the last row served, as base64url JSON. `decode`
 * checks what comes back against `schema`: a cursor psc never handed out (garbage, a wrong
 * shape, NUL bytes) is the caller's mistake, a 400 `bad_request`, never a failed query.
 */
export function pageCursor<S extends z.ZodType>(schema: S) {
  return {
    encode: (value: z.infer<S>): string => Buffer.from(JSON.stringify(value)).toString('base64url'),
    decode(cursor: string | undefined): z.infer<S> | undefined {
      if (!cursor) return undefined;
      let raw: unknown;
      try {
        raw = JSON.parse(Buffer.from(cursor, 'base64url').toString());
      } catch {
        raw = undefined;
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new BadRequestError('cursor must come from a previous page');
      return parsed.data;
    },
  };
}

/** `records.list` / `records.export`: after this record. */
export const recordCursor = pageCursor(z.strictObject({ parentKey: cursorText, key: cursorText }));

/** `validation.list`: reports older than this one. */
export const validationCursor = pageCursor(
  z.strictObject({ at: z.iso.datetime({ offset: true }), jobId: z.uuid() }),
);

/** `platform.list`: platforms named after this one. */
export const platformCursor = pageCursor(cursorText);

/** `job.list`: after this job (newest first). */
export const jobCursor = pageCursor(z.strictObject({ createdAt: z.iso.datetime(), id: z.uuid() }));
/** Schedules, by platform, resource and task. */
export const scheduleCursor = pageCursor(
  z.strictObject({ platformId: z.uuid(), resource: cursorText, taskType: cursorText }),
);
/** Backfills, newest first. */
export const backfillCursor = pageCursor(
  z.strictObject({ createdAt: z.iso.datetime(), id: z.uuid() }),
);

/** `dlq.list`: after this dead letter (newest first). */
export const deadLetterCursor = pageCursor(
  z.strictObject({ deadAt: z.iso.datetime(), id: z.uuid() }),
);

/** `logs.query`: entries older than this one (newest first). */
export const logCursor = pageCursor(z.strictObject({ at: z.iso.datetime(), id: z.uuid() }));
