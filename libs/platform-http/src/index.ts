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
} from './platform-client.ts';
export { createPlatformFetcher, type PlatformFetcher } from './fetcher.ts';
export { createFetcherTables } from './fetcher-tables.ts';
export { UpstreamStatusError, parseRetryAfter } from './responses.ts';
export { asArray, asText, evaluate } from './expressions.ts';
