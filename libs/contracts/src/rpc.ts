import { z } from 'zod';
import type { ServiceName } from './topology.ts';
import { errorBody } from './errors.ts';

/**
 * A request/reply operation owned by one service. The gateway (or another service) sends
 * `request`, the owner answers with `response`; both sides parse with these schemas.
 */
export interface RpcDefinition<
  T extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> {
  readonly type: T;
  readonly service: ServiceName;
  readonly request: Req;
  readonly response: Res;
}

export function defineRpc<T extends string, Req extends z.ZodType, Res extends z.ZodType>(
  service: ServiceName,
  type: T,
  request: Req,
  response: Res,
): RpcDefinition<T, Req, Res> {
  return { service, type, request, response };
}

export type RpcRequest<R extends RpcDefinition> = z.infer<R['request']>;
export type RpcResponse<R extends RpcDefinition> = z.infer<R['response']>;

/** What travels back on the reply queue. */
export const rpcReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: errorBody }),
]);
export type RpcReply = z.infer<typeof rpcReply>;
