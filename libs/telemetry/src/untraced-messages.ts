import { SpanKind, type Attributes, type Context } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';

/** Message types whose consumption starts no trace: worker heartbeats, every few seconds. */
const UNTRACED_ROUTING_KEYS = new Set(['worker.heartbeat']);

/**
 * Root sampler: drops the consumer span a heartbeat would start (its publish is untraced in
 * libs/messaging, so it arrives with no parent), samples everything else.
 */
export class UntracedMessagesSampler implements Sampler {
  readonly #always = new AlwaysOnSampler();

  shouldSample(
    _context: Context,
    _traceId: string,
    _name: string,
    kind: SpanKind,
    attributes: Attributes,
  ): SamplingResult {
    const routingKey = attributes['messaging.rabbitmq.routing_key'];
    if (
      kind === SpanKind.CONSUMER &&
      typeof routingKey === 'string' &&
      UNTRACED_ROUTING_KEYS.has(routingKey)
    ) {
      return { decision: SamplingDecision.NOT_RECORD };
    }
    return this.#always.shouldSample();
  }

  toString(): string {
    return 'UntracedMessagesSampler';
  }
}
