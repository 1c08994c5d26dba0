import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ROOT_CONTEXT,
  SpanStatusCode,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Link,
} from '@opentelemetry/api';
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace';
import { TRACER_NAME, traceparentOf } from './trace.ts';

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

/** The trace id the next root span takes, while `startSpanInTrace` starts one. */
const pinnedTraceId = new AsyncLocalStorage<string>();

/**
 * The SDK's random ids, except that a root span started by {@link startSpanInTrace} takes the
 * trace id it was given: the OpenTelemetry API has no other way to start a trace whose id was
 * chosen before (a job's, recorded on its ledger row when the job was planned).
 */
export class PinnableIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  generateTraceId(): string {
    return pinnedTraceId.getStore() ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}

/** A span started in another trace than the active one's. */
export interface SpanInTrace {
  /** Its W3C `traceparent`, for the messages sent under it; undefined when tracing is off. */
  readonly traceparent: string | undefined;
  /** Ends it; with an error, marked failed. */
  end(error?: unknown): void;
}

const NOT_TRACED: SpanInTrace = { traceparent: undefined, end: () => undefined };

/**
 * Starts a span of this process in a job's trace while it works in another one (a batch's, a
 * tick's), linked to the span active now: under `parent`, the `traceparent` another process
 * sent for the job, or else as the root of trace `traceId`. The job's messages, sent under it,
 * then hang from a span that is recorded, and the job's trace is one tree. Without a started SDK
 * nothing is recorded and `traceparent` is undefined.
 */
export function startSpanInTrace(
  name: string,
  at: { parent: string } | { traceId: string },
  attributes: Attributes = {},
): SpanInTrace {
  // Tracing off (no SDK, so no W3C propagator): nothing to start, for every run of a tick too.
  if (!propagation.fields().includes('traceparent')) return NOT_TRACED;
  const tracer = trace.getTracer(TRACER_NAME);
  const active = trace.getActiveSpan()?.spanContext();
  const links: Link[] = active && isSpanContextValid(active) ? [{ context: active }] : [];
  const span =
    'parent' in at
      ? tracer.startSpan(
          name,
          { attributes, links },
          propagation.extract(ROOT_CONTEXT, { traceparent: at.parent }),
        )
      : TRACE_ID.test(at.traceId)
        ? pinnedTraceId.run(at.traceId, () =>
            tracer.startSpan(name, { attributes, links, root: true }),
          )
        : tracer.startSpan(name, { attributes, links, root: true });
  return {
    traceparent: traceparentOf(span),
    end(error) {
      if (error !== undefined) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message:
            error instanceof Error ? error.message : typeof error === 'string' ? error : 'failed',
        });
      }
      span.end();
    },
  };
}
