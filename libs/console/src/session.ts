import { createApiClient, type ApiClient, type components } from '@psc/api-client';

export type Role = components['schemas']['WhoAmI']['role'];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` may do what needs `least`: the console offers nothing the key may not do. */
export const allows = (role: Role, least: Role): boolean => RANK[role] >= RANK[least];

export interface Session {
  apiKey: string;
  keyId: string;
  role: Role;
  client: ApiClient;
}

/** The key lives in this tab's sessionStorage only: closing the tab signs out. */
const KEY = 'psc.apiKey';

/** An API error as the gateway's envelope states it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** What to fix, when the API lists it (a validation's fields, an egress refusal's reason). */
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful call, or an {@link ApiError} carrying the API's own message. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const envelope = (error ?? {}) as {
    error?: { code?: string; message?: string; details?: unknown };
  };
  throw new ApiError(
    response.status,
    envelope.error?.code ?? `http_${response.status}`,
    envelope.error?.message ?? response.statusText,
    envelope.error?.details,
  );
}

const clientFor = (apiKey: string): ApiClient =>
  createApiClient({ baseUrl: window.location.origin, apiKey });

/**
 * Asks the gateway who `apiKey` is; throws the API's answer (401 for an unknown key). Every later
 * call of the session's client that the gateway refuses with a 401 (the key revoked or expired
 * meanwhile) calls `onRefused`, from a page's poll and from an operator's action alike.
 */
export async function signIn(apiKey: string, onRefused?: () => void): Promise<Session> {
  const client = clientFor(apiKey);
  const me = await unwrap(client.GET('/api/v1/me'));
  sessionStorage.setItem(KEY, apiKey);
  if (onRefused) {
    client.use({
      onResponse({ response }) {
        // A request sent before the tab signed in again with another key is no news.
        if (response.status === 401 && storedKey() === apiKey) onRefused();
        return response;
      },
    });
  }
  return { apiKey, keyId: me.keyId, role: me.role, client };
}

/** Whether `err` is fetch's own failure: no answer at all (gateway down, network cut). */
export const isUnreachable = (err: unknown): boolean =>
  err instanceof TypeError && !(err instanceof ApiError);

export const storedKey = (): string | null => sessionStorage.getItem(KEY);

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}
