import { createHash } from 'node:crypto';
import type { RpcDefinition } from '@psc/contracts';

/** AMQP header of a reply: the fingerprint of the response contract it was produced under. */
export const CONTRACT_HEADER = 'x-psc-contract';

const fingerprints = new WeakMap<RpcDefinition['response'], string | null>();

/**
 * A short hash of an operation's response schema (its JSON Schema), computed once per schema.
 * The owner of an operation names the fingerprint of the contract its typed handler answered
 * under; a caller whose own contract has the same fingerprint uses the reply as it is, and only
 * a caller on another version of the contract validates it. `undefined` when the
 * schema has no JSON Schema form: then callers always validate.
 */
export function responseFingerprint(definition: RpcDefinition): string | undefined {
  let known = fingerprints.get(definition.response);
  if (known === undefined) {
    try {
      const schema = definition.response.toJSONSchema({ io: 'output', unrepresentable: 'any' });
      known = createHash('sha256').update(JSON.stringify(schema)).digest('base64url').slice(0, 22);
    } catch {
      known = null;
    }
    fingerprints.set(definition.response, known);
  }
  return known ?? undefined;
}
