import { randomBytes } from 'node:crypto';

/** Trace ids drawn per call to the random source: a tick of 10,000 runs asks for one each. */
const IDS_PER_DRAW = 256;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A new W3C trace id (32 hex digits) for a job that starts outside any active trace: with no
 * exporter configured there is none, and the job still needs one to correlate its log lines.
 * Cut from a pool of random bytes: one `randomBytes` call per id was a tenth of the scheduler's
 * time when 10,000 schedules fell due together (bench scenario 4).
 */
export function newTraceId(): string {
  if (offset >= pool.length) {
    pool = randomBytes(16 * IDS_PER_DRAW);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + 16);
  offset += 16;
  return id;
}
