import { z } from 'zod';
import type { ServiceName } from './topology.ts';
import { errorBody } from './errors.ts';

/**
 * A request/reply operation owned by one service. Its `callers` send `request`, the owner
 * answers with `response`; both sides parse with these schemas.
 */
export interface RpcDefinition<
  T extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
  C extends ServiceName = ServiceName,
> {
  readonly type: T;
  readonly service: ServiceName;
  readonly request: Req;
  readonly response: Res;
  /**
   * The services that call it. Each one's broker login may send it and no other's (topic
   * permissions on `psc.calls`, broker-permissions.ts), and a service's RPC client accepts only
   * the operations naming it (createRpcClient), so the two cannot drift apart.
   */
  readonly callers: readonly C[];
}

const defined: RpcDefinition[] = [];

/**
 * Every operation `defineRpc` made: complete once `@psc/contracts` is loaded (its index imports
 * every module that defines one). Broker permissions are derived from it.
 */
export const RPC_OPERATIONS: readonly RpcDefinition[] = defined;

/** Most operations are the HTTP API's: only the gateway calls them. */
const API_ONLY = ['gateway'] as const;

export function defineRpc<
  T extends string,
  Req extends z.ZodType,
  Res extends z.ZodType,
  const C extends ServiceName = (typeof API_ONLY)[number],
>(
  service: ServiceName,
  type: T,
  request: Req,
  response: Res,
  callers: readonly C[] = API_ONLY as unknown as readonly C[],
): RpcDefinition<T, Req, Res, C> {
  const definition = { service, type, request, response, callers };
  defined.push(definition);
  return definition;
}

/** The routing key of an operation's requests on `psc.calls`. */
export const rpcRoutingKey = (definition: Pick<RpcDefinition, 'service' | 'type'>): string =>
  `${definition.service}.${definition.type}`;

export type RpcRequest<R extends RpcDefinition> = z.infer<R['request']>;
export type RpcResponse<R extends RpcDefinition> = z.infer<R['response']>;

/** What travels back on the reply queue. */
export const rpcReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: errorBody }),
]);
export type RpcReply = z.infer<typeof rpcReply>;
