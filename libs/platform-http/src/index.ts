export {
  createPlatformBreakers,
  type BreakerChange,
  type BreakerState,
  type PlatformBreakers,
} from './breakers.ts';
export {
  buildUrl,
  createPlatformHttpClient,
  type PlatformHttpClient,
  type PlatformLimit,
  type PlatformRequest,
  type PlatformResponse,
  type RequestOptions,
} from './platform-client.ts';
export { PlatformDeferral, type DeferReason } from './deferrals.ts';
export { createPlatformFetcher, type PlatformFetcher } from './fetcher.ts';
export { createFetcherTables, createRateTickets } from './fetcher-tables.ts';
export { UpstreamStatusError, parseRetryAfter } from './responses.ts';
export {
  DEFAULT_EXPRESSION_BUDGET,
  asArray,
  asText,
  configureExpressions,
  evaluate,
  expressionBudget,
  expressionBudgetEnv,
  expressionBudgetOf,
  expressionProblem,
  type ExpressionBudget,
} from './expressions.ts';
export { fillPath, fillText, type ParamLookup } from './path-template.ts';
export {
  MAX_LINK_HEADER_CHARS,
  createPager,
  nextLink,
  type PageRequest,
  type PageResponse,
  type Pager,
} from './pages.ts';
export { SealedCredentialError, createWorkerSeal, type WorkerSeal } from './worker-seal.ts';
export { MAX_STORED_DEPTH, assertStorable, assertStorableEach, storableText } from './storable.ts';
