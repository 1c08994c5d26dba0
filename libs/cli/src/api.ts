import { createApiClient, type ApiClient } from '@psc/api-client';
import { CliError, EXIT } from './errors.ts';

/** The gateway's error envelope (`components.schemas.Error`). */
interface ErrorEnvelope {
  error?: { code?: string; message?: string; details?: unknown; traceId?: string };
}

/** What to do next, by the status the gateway answered with. */
function hintFor(status: number, url: string): string {
  if (status === 401) return 'Check the key: run `psc login` again or set PSC_API_KEY.';
  if (status === 403)
    return "This key's role may not do that: use an operator key (or admin for keys).";
  if (status === 404) return 'Check the id or name: `psc platforms ls`, `psc jobs ls`.';
  if (status === 409)
    return 'It conflicts with the current state: look at it with `show`/`status`.';
  if (status === 413) return 'The body is over the gateway’s limit: send less at once.';
  if (status === 400 || status === 422) return 'Fix the input named above and run it again.';
  if (status === 429) return 'Too many requests: wait a moment and run it again.';
  return `The gateway at ${url} or a service behind it failed: check \`npm start\`'s output or GET /api/v1/logs.`;
}

/** 401/403 and a gateway that cannot reach its services count as "unreachable or unauthorised". */
const exitCodeFor = (status: number) =>
  status === 401 || status === 403 || status === 502 || status === 503 || status === 504
    ? EXIT.unreachable
    : EXIT.failed;

function apiError(response: Response, body: unknown, url: string): CliError {
  const envelope = (body ?? {}) as ErrorEnvelope;
  const message = envelope.error?.message ?? `HTTP ${response.status} ${response.statusText}`;
  return new CliError(message, {
    exitCode: exitCodeFor(response.status),
    status: response.status,
    hint: hintFor(response.status, url),
    ...(envelope.error?.code ? { code: envelope.error.code } : {}),
    ...(envelope.error?.details === undefined ? {} : { details: envelope.error.details }),
  });
}

function unreachable(url: string, cause: unknown): CliError {
  const reason = cause instanceof Error ? (cause.cause ?? cause) : cause;
  const text = reason instanceof Error ? reason.message : String(reason);
  return new CliError(`cannot reach the gateway at ${url}: ${text}`, {
    exitCode: EXIT.unreachable,
    hint: 'Is psc running (`npm start`)? Check PSC_URL or run `psc login --url <gateway>`.',
  });
}

/** The typed client plus the address it talks to, for messages. */
export interface Api {
  client: ApiClient;
  url: string;
  apiKey: string;
}

export function createApi(url: string, apiKey: string): Api {
  return { client: createApiClient({ baseUrl: url, apiKey }), url, apiKey };
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits one openapi-fetch call: its data on success, otherwise a CliError carrying the API's
 * message and what to do (exit 1, or 3 for an unreachable gateway or a refused key).
 */
export async function call<T>(api: Api, request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (err) {
    throw unreachable(api.url, err);
  }
  if (!answer.response.ok) throw apiError(answer.response, answer.error, api.url);
  return answer.data as T;
}
