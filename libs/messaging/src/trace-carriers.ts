import { randomBytes } from 'node:crypto';
import { HEADERS } from '@psc/contracts';

/** A propagation carrier: what `propagation.inject` writes (`traceparent`, `tracestate`). */
export type TraceCarrier = Record<string, string>;

/** Longest carrier read back from a bundle's header: a traceparent is 55, a tracestate ≤ 512. */
const MAX_CARRIER_CHARS = 1_024;
const CARRIER_KEYS: ReadonlySet<string> = new Set(['traceparent', 'tracestate']);

/**
 * The `x-psc-bundle-traces` header of a bundle of envelopes whose outbox rows carry these
 * carriers, or undefined when none carries one (tracing is off): nothing is added then.
 */
export function bundleTracesHeader(carriers: readonly TraceCarrier[]): string[] | undefined {
  if (!carriers.some((c) => c['traceparent'] !== undefined)) return undefined;
  return carriers.map((c) => JSON.stringify(c));
}

/**
 * Each envelope's carrier from a bundle's header, by position; undefined where there is none.
 * The header is only a hint for tracing: one that is missing, of the wrong length or malformed
 * is ignored, never a reason to refuse the bundle.
 */
export function readBundleTraces(
  headers: Record<string, unknown> | undefined,
  count: number,
): (TraceCarrier | undefined)[] {
  const raw = headers?.[HEADERS.bundleTraces];
  const items: unknown[] | undefined = Array.isArray(raw) ? raw : undefined;
  if (items?.length !== count) return Array.from({ length: count }, () => undefined);
  return items.map(parseCarrier);
}

function parseCarrier(item: unknown): TraceCarrier | undefined {
  // amqplib hands a header's strings back as Buffers when they arrive as byte arrays.
  const text = Buffer.isBuffer(item) ? item.toString('utf8') : item;
  if (typeof text !== 'string' || text.length > MAX_CARRIER_CHARS) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const carrier: TraceCarrier = {};
  for (const [key, value] of Object.entries(json)) {
    if (CARRIER_KEYS.has(key) && typeof value === 'string') carrier[key] = value;
  }
  return carrier['traceparent'] === undefined ? undefined : carrier;
}

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

/**
 * A carrier for a message that belongs to trace `traceId` (a job's, recorded on its ledger row):
 * `carrier`, the writer's own context, when it is of that trace; otherwise a context in that
 * trace under a parent span this process did not record (the job's first span, as far as the
 * tracing backend can tell). A batch that writes the messages of several jobs (coalesced run-now
 * requests) would otherwise put every job's spans in the batch's one trace, and a tick's runs
 * would each start a trace of their own, while each job's record names its trace. Nothing
 * changes when `tracing` is off.
 */
export function carrierInTrace(
  carrier: TraceCarrier,
  traceId: string,
  tracing: boolean,
): TraceCarrier {
  const parent = carrier['traceparent'];
  if (!tracing || !TRACE_ID.test(traceId) || parent?.slice(3, 35) === traceId) return carrier;
  const flags = parent?.slice(53, 55) || '01';
  return { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}` };
}

/** Whether trace context propagates at all (an SDK registered a W3C propagator). */
export const propagatesTraces = (fields: readonly string[]): boolean =>
  fields.includes('traceparent');
