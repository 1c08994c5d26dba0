import { useSearchParams } from 'wouter';
import { useApi } from './swr.ts';
import { useSession } from './context.ts';
import { unwrap } from './session.ts';

/**
 * The platforms (the first 500), for pages that name or offer them: one cached list
 * (`platform-names`) shared by every page, and their names by id.
 */
export function usePlatforms() {
  const { client } = useSession();
  const platforms = useApi('platform-names', () =>
    unwrap(client.GET('/api/v1/platforms', { params: { query: { limit: 500 } } })),
  );
  const items = platforms.data?.items ?? [];
  return { items, names: new Map(items.map((p) => [p.id, p.name])), error: platforms.error };
}

/** Platform names by id (see {@link usePlatforms}). */
export const usePlatformNames = (): Map<string, string> => usePlatforms().names;

/**
 * A page's filters kept in its URL query, so a view can be shared and survives a reload: the
 * params, and `set(name, value)`, which replaces the entry (an empty value removes the filter).
 */
export function useUrlFilters() {
  const [params, setParams] = useSearchParams();
  const set = (name: string, value: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  return { params, set, setParams };
}

/** "any platform" or one by name; an id the names lack (a link's) stays chosen, shown short. */
export function PlatformSelect(props: {
  value: string;
  names: Map<string, string>;
  onChange: (platformId: string) => void;
}) {
  const { value, names } = props;
  return (
    <select aria-label="Platform" value={value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">any platform</option>
      {[...names].map(([id, name]) => (
        <option key={id} value={id}>
          {name}
        </option>
      ))}
      {value && !names.has(value) ? <option value={value}>{value.slice(0, 8)}</option> : null}
    </select>
  );
}
