import { randomBytes } from 'node:crypto';

/**
 * A new W3C trace id (32 hex digits) for a job that starts outside any active trace: with no
 * exporter configured there is none, and the job still needs one to correlate its log lines.
 */
export const newTraceId = (): string => randomBytes(16).toString('hex');
