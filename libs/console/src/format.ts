/** Short, local renderings of API values for tables. */

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.round(abs / 60)} min`
        : abs < 86_400
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86_400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

export const time = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleString() : '—';

export const rate = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : `${value.toFixed(1)}/s`;

export const num = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : value.toLocaleString();

export const FINISHED = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

/** Time windows a list may be narrowed to, in minutes (0: any time). */
export const WINDOWS: [string, number][] = [
  ['any time', 0],
  ['last 15 min', 15],
  ['last hour', 60],
  ['last day', 1440],
];

/** The start of a window of `minutes` ending now, as the API's `since`; nothing for any time. */
export const sinceOf = (minutes: number): { since?: string } =>
  minutes ? { since: new Date(Date.now() - minutes * 60_000).toISOString() } : {};
