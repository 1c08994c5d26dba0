import { context, type Context } from '@opentelemetry/api';

/*
 * amqp-connection-manager queues a publish made while it reconnects and sends it later in another
 * async context, which would start a new trace. We capture the caller's context in the publish
 * options (a symbol key survives ChannelWrapper's option copy; amqplib ignores it) and restore it
 * around the raw channel's publish, which the amqplib instrumentation has already patched.
 */
const CONTEXT_KEY = Symbol.for('psc.otel.publishContext');
const PATCHED = Symbol.for('psc.otel.publishPatched');

export function withPublishContext<T extends object>(
  options: T,
  ctx: Context = context.active(),
): T {
  return { ...options, [CONTEXT_KEY]: ctx };
}

type PublishFn = (...args: unknown[]) => boolean;
interface Patchable {
  publish: PublishFn;
  [PATCHED]?: boolean;
}

export function restoreContextOnChannel(channel: object): void {
  const ch = channel as Patchable;
  if (ch[PATCHED]) return;
  const original = ch.publish;
  ch.publish = function patchedPublish(this: unknown, ...args: unknown[]): boolean {
    const options = args[3] as Record<symbol, Context | undefined> | undefined;
    const captured = options?.[CONTEXT_KEY];
    return captured
      ? context.with(captured, () => original.apply(this, args))
      : original.apply(this, args);
  };
  ch[PATCHED] = true;
}
