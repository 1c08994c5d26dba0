import useSWR, { type Key, type SWRConfiguration, type SWRResponse } from 'swr';

/** SWR with its error typed: every fetcher here throws an `Error` (an `ApiError` from the API). */
export function useApi<T>(
  key: Key,
  fetcher: () => Promise<T>,
  config?: SWRConfiguration<T, Error>,
): SWRResponse<T, Error> {
  return useSWR<T, Error>(key, fetcher, config);
}
