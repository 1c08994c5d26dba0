import {
  ROOT_CONTEXT,
  SpanStatusCode,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';

/** The tracer of psc's own spans. */
export const TRACER_NAME = 'psc';

/** Trace id of the active span, or `null` when there is none (or tracing is off). */
export function currentTraceId(): string | null {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : null;
}

/** The active span's W3C `traceparent`, or null when there is none (or tracing is off). */
export function currentTraceparent(): string | null {
  const span = trace.getActiveSpan();
  return span ? (traceparentOf(span) ?? null) : null;
}

/** A span's W3C `traceparent` as the registered propagator writes it; undefined if it has none. */
export function traceparentOf(span: Span): string | undefined {
  if (!isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier['traceparent'];
}

/**
 * Runs `fn` inside a new active span of the `psc` tracer; a thrown error is recorded on the span
 * and re-thrown. Without a started SDK the span is a no-op and this just calls `fn`.
 */
export function withSpan<T>(
  name: string,
  fn: () => Promise<T>,
  attributes?: Attributes,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error) span.recordException(err);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  });
}
