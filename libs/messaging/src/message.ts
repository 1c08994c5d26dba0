import {
  EXCHANGES,
  HEADERS,
  MAX_PRIORITY,
  type QueueSpec,
  type Envelope,
  type MessageDefinition,
  type PayloadOf,
} from '@psc/contracts';
import type { ConsumeMessage } from 'amqplib';
import { readBundleTraces, type TraceCarrier } from './trace-carriers.ts';
import { PoisonMessageError, RetiredMessageError } from './errors.ts';

/**
 * A received message of one of the definitions `D`: a union discriminated by `type`, so a
 * handler narrows the payload by checking the type, with no casts.
 */
export type MessageOf<D> =
  D extends MessageDefinition<infer T>
    ? Omit<Envelope<PayloadOf<D>>, 'type'> & { readonly type: T }
    : never;

const MAX_SANE_ATTEMPT = 1_000;
const NONE: ReadonlySet<string> = new Set();

/**
 * The message types a queue's retired bindings used to bring it: still queued from before an
 * upgrade, they are dropped instead of parked ({@link RetiredMessageError}).
 */
export function retiredTypes(spec: QueueSpec): ReadonlySet<string> {
  const taken = new Set(spec.accepts.map((d) => d.type));
  return new Set(
    (spec.retiredBindings ?? [])
      .filter((b) => b.exchange === EXCHANGES.events && !taken.has(b.routingKey))
      .map((b) => b.routingKey),
  );
}

/** The attempt a delivery is (1 for the first), from `x-psc-attempt`; `x-death` is not trusted. */
export function readAttempt(headers: Record<string, unknown>): number {
  const raw = headers[HEADERS.attempt];
  if (raw === undefined) return 1;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SANE_ATTEMPT) {
    throw new PoisonMessageError(
      `invalid ${HEADERS.attempt} header: ${JSON.stringify(raw).slice(0, 40)}`,
    );
  }
  return n;
}

/**
 * Parses a delivery against the definitions a queue accepts. A type in `retired` is a
 * {@link RetiredMessageError}; anything else (not JSON, an unknown type or version, a payload
 * outside its contract, an absurd priority or attempt) is poison, with the reason in the error.
 */
export function parseDelivery<D extends MessageDefinition>(
  msg: ConsumeMessage,
  byType: ReadonlyMap<string, D>,
  retired: ReadonlySet<string> = NONE,
): { message: MessageOf<D>; attempt: number } {
  const json = bodyOf(msg);
  if (Array.isArray(json)) {
    throw new PoisonMessageError(
      `a bundle of ${json.length} messages, and this queue's consumer takes one per delivery`,
    );
  }
  return parseEnvelope(json, msg, byType, retired);
}

/** The most envelopes a bundle may hold; a bigger one is poison. */
export const MAX_BUNDLE = 1_000;

/**
 * One envelope of a bundle: its message, or why it is poison (with its JSON, for parking). Out
 * of a bundle of several, `trace` is the envelope's own trace context, when the bundle names it.
 */
export type BundleEntry<D extends MessageDefinition> =
  | { message: MessageOf<D>; trace?: TraceCarrier }
  | { poison: string; json: unknown; messageId?: string; trace?: TraceCarrier }
  | { retired: string };

/**
 * Parses a delivery that may be a bundle (a JSON array of envelopes, `HEADERS.bundle`): each
 * envelope is checked on its own, so one bad envelope does not spoil the others. A delivery of
 * one envelope is a bundle of one. A body that is neither is poison as a whole.
 */
export function parseBundle<D extends MessageDefinition>(
  msg: ConsumeMessage,
  byType: ReadonlyMap<string, D>,
  retired: ReadonlySet<string> = NONE,
): BundleEntry<D>[] {
  const json = bodyOf(msg);
  if (!Array.isArray(json)) {
    try {
      return [{ message: parseEnvelope(json, msg, byType, retired).message }];
    } catch (err) {
      if (err instanceof RetiredMessageError) return [{ retired: err.message }];
      throw err;
    }
  }
  if (json.length === 0 || json.length > MAX_BUNDLE) {
    throw new PoisonMessageError(`a bundle of ${json.length} messages (1 to ${MAX_BUNDLE})`);
  }
  const traces = readBundleTraces(msg.properties.headers, json.length);
  return json.map((item: unknown, i): BundleEntry<D> => {
    const trace = traces[i];
    const own = trace ? { trace } : {};
    try {
      return { message: parseEnvelope(item, msg, byType, retired).message, ...own };
    } catch (err) {
      if (err instanceof RetiredMessageError) return { retired: err.message };
      const id = (item as { id?: unknown } | null)?.id;
      return {
        poison: err instanceof Error ? err.message : String(err),
        json: item,
        ...(typeof id === 'string' ? { messageId: id.slice(0, 80) } : {}),
        ...own,
      };
    }
  });
}

/** A delivery's body as JSON; anything else is poison. */
function bodyOf(msg: ConsumeMessage): unknown {
  try {
    return JSON.parse(msg.content.toString('utf8'));
  } catch {
    throw new PoisonMessageError('body is not valid JSON');
  }
}

function parseEnvelope<D extends MessageDefinition>(
  json: unknown,
  msg: ConsumeMessage,
  byType: ReadonlyMap<string, D>,
  retired: ReadonlySet<string>,
): { message: MessageOf<D>; attempt: number } {
  const type = (json as { type?: unknown } | null)?.type;
  const definition = typeof type === 'string' ? byType.get(type) : undefined;
  if (!definition) {
    if (typeof type === 'string' && retired.has(type)) throw new RetiredMessageError(type);
    throw new PoisonMessageError(`unexpected message type ${String(type).slice(0, 80)}`);
  }
  const parsed = definition.envelope.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PoisonMessageError(
      `${definition.type} fails its contract at ${first?.path.join('.') || '(root)'}: ${first?.message ?? ''}`,
    );
  }
  const priority = msg.properties.priority as number | undefined;
  if (priority !== undefined && (priority < 0 || priority > MAX_PRIORITY + 1)) {
    throw new PoisonMessageError(`absurd priority ${priority}`);
  }
  return {
    message: parsed.data as MessageOf<D>,
    attempt: readAttempt(msg.properties.headers ?? {}),
  };
}
