import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  isSpanContextValid,
  trace,
  type Context,
  type Link,
  type SpanContext,
} from '@opentelemetry/api';

const tracer = trace.getTracer('@psc/messaging');

/** What a batch's spans need of one of its messages. */
export interface TracedMessage {
  /** The context the message arrived in: its delivery's, or its own envelope's out of a bundle. */
  parent: Context;
  id: string;
  type: string;
  bundled: boolean;
}

const validContext = (ctx: Context): SpanContext | undefined => {
  const span = trace.getSpanContext(ctx);
  return span && isSpanContextValid(span) ? span : undefined;
};

/**
 * Runs one application of a batch (one transaction for many messages, each from its own trace)
 * under a `<queue> batch` span, a root linked to every message's trace: its statements belong
 * to no single message. Each message gets a `<queue> apply` span in its own trace, linked back
 * to the batch, so a job's trace shows where its outcome was applied and how that went. With
 * tracing off no context is valid, and nothing is created.
 */
export async function traceBatch(
  queue: string,
  messages: readonly TracedMessage[],
  apply: () => Promise<'done' | 'failed'>,
): Promise<'done' | 'failed'> {
  const traced = messages.flatMap((m) => {
    const context = validContext(m.parent);
    return context ? [{ m, context }] : [];
  });
  if (traced.length === 0) return apply();
  const common = {
    'messaging.system': 'rabbitmq',
    'messaging.destination.name': queue,
    'messaging.operation.type': 'process',
  };
  const links: Link[] = traced.map(({ context }) => ({ context }));
  return tracer.startActiveSpan(
    `${queue} batch`,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links,
      attributes: { ...common, 'messaging.batch.message_count': messages.length },
    },
    ROOT_CONTEXT,
    async (batch) => {
      const own = traced.map(({ m }) =>
        tracer.startSpan(
          `${queue} apply`,
          {
            kind: SpanKind.CONSUMER,
            links: [{ context: batch.spanContext() }],
            attributes: {
              ...common,
              'messaging.message.id': m.id,
              'psc.message.type': m.type,
              'psc.message.bundled': m.bundled,
              'messaging.batch.message_count': messages.length,
            },
          },
          m.parent,
        ),
      );
      let outcome: 'done' | 'failed' | undefined;
      try {
        outcome = await apply();
        return outcome;
      } finally {
        // Failed or thrown: the batch rolled back; each message is applied again, on its own.
        const status =
          outcome === 'done'
            ? { code: SpanStatusCode.OK }
            : { code: SpanStatusCode.ERROR, message: 'batch rolled back' };
        for (const span of [...own, batch]) {
          span.setStatus(status);
          span.end();
        }
      }
    },
  );
}
