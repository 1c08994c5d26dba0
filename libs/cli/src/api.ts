import { createApiClient, type ApiClient } from '@psc/api-client';
import { CliError, EXIT } from './errors.ts';

/** The gateway's error envelope (`components.schemas.Error`). */
interface ErrorEnvelope {
  error: { code?: string; message: string; details?: unknown; traceId?: string };
}

const isEnvelope = (body: unknown): body is ErrorEnvelope =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as { error?: { message?: unknown } }).error?.message === 'string';

const NOT_THE_GATEWAY =
  'Check PSC_URL (or --url): it is the gateway’s own address, e.g. http://127.0.0.1:8080, without /api/v1 or /ui.';

/** What to do next, by the status the gateway answered with. */
function hintFor(status: number, url: string, body: ErrorEnvelope): string {
  if (status === 401) return 'Check the key: run `psc login` again or set PSC_API_KEY.';
  if (status === 403)
    return "This key's role may not do that: use an operator key (or admin for keys).";
  // The gateway's answer to a path it does not serve: a wrong address, or a gateway older than psc.
  if (status === 404 && body.error.message.startsWith('no route for '))
    return `No such route on this gateway. ${NOT_THE_GATEWAY} An older gateway may also lack the command.`;
  if (status === 404) return 'Check the id or name: `psc platforms ls`, `psc jobs ls`.';
  if (status === 409)
    return 'It conflicts with the current state: look at it with `show`/`status`.';
  if (status === 413) return 'The body is over the gateway’s limit: send less at once.';
  if (status === 400 || status === 422) return 'Fix the input named above and run it again.';
  if (status === 429) return 'Too many requests: wait a moment and run it again.';
  return `The gateway at ${url} or a service behind it failed: see \`psc status\` and \`psc logs -l error\`.`;
}

/** A proxy's or the gateway's own "the service is not there right now". */
const isGatewayDown = (status: number) => status === 502 || status === 503 || status === 504;

/** 401/403 and a gateway that cannot reach its services count as "unreachable or unauthorised". */
const exitCodeFor = (status: number) =>
  status === 401 || status === 403 || isGatewayDown(status) ? EXIT.unreachable : EXIT.failed;

function apiError(response: Response, body: unknown, url: string): CliError {
  if (!isEnvelope(body)) {
    // Not psc's error envelope: a proxy in front of the gateway, or not the gateway at all.
    const type = response.headers.get('content-type')?.split(';')[0];
    return new CliError(
      `${url} answered HTTP ${response.status} ${response.statusText}${type ? ` (${type})` : ''}, not an answer of psc's gateway`,
      {
        exitCode: EXIT.unreachable,
        status: response.status,
        transient: isGatewayDown(response.status),
        hint: response.status >= 500 ? `Is the gateway up? ${NOT_THE_GATEWAY}` : NOT_THE_GATEWAY,
      },
    );
  }
  return new CliError(body.error.message, {
    exitCode: exitCodeFor(response.status),
    status: response.status,
    transient: isGatewayDown(response.status),
    hint: hintFor(response.status, url, body),
    ...(body.error.code ? { code: body.error.code } : {}),
    ...(body.error.details === undefined ? {} : { details: body.error.details }),
    ...(body.error.traceId ? { traceId: body.error.traceId } : {}),
  });
}

function unreachable(api: Api, cause: unknown): CliError {
  if (cause instanceof CliError) return cause;
  if (cause instanceof Error && cause.name === 'TimeoutError') {
    return new CliError(
      `the gateway at ${api.url} did not answer within ${api.timeoutMs / 1000} s`,
      {
        exitCode: EXIT.unreachable,
        transient: true,
        hint: 'Is it overloaded or stuck? Check `psc status` and its logs; wait longer with --request-timeout <seconds>.',
      },
    );
  }
  if (cause instanceof SyntaxError) {
    // openapi-fetch parses a 2xx answer as JSON: one that is not JSON did not come from psc.
    return new CliError(`the answer from ${api.url} is not JSON: ${cause.message}`, {
      exitCode: EXIT.unreachable,
      hint: NOT_THE_GATEWAY,
    });
  }
  const reason = cause instanceof Error ? (cause.cause ?? cause) : cause;
  const text = reason instanceof Error ? reason.message : String(reason);
  return new CliError(`cannot reach the gateway at ${api.url}: ${text}`, {
    exitCode: EXIT.unreachable,
    transient: true,
    hint: 'Is psc running (`npm start`)? Check PSC_URL or run `psc login --url <gateway>`.',
  });
}

/** The typed client plus the address it talks to, for messages. */
export interface Api {
  client: ApiClient;
  /** The same client without the time limit, for transfers of any length (data import/export). */
  untimed: ApiClient;
  url: string;
  apiKey: string;
  /** How long one request may take, body included (`--request-timeout`). */
  timeoutMs: number;
}

/** The request timeout unless `--request-timeout` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export function createApi(url: string, apiKey: string, timeoutMs = DEFAULT_TIMEOUT_MS): Api {
  // The signal bounds the whole exchange: a gateway that accepts the connection and then says
  // nothing (or stops halfway through its answer) ends the command instead of hanging it.
  const timed = (request: Request) =>
    fetch(request, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]) });
  return {
    client: createApiClient({ baseUrl: url, apiKey, fetch: timed }),
    untimed: createApiClient({ baseUrl: url, apiKey }),
    url,
    apiKey,
    timeoutMs,
  };
}

export type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits one openapi-fetch call: its data on success, otherwise a CliError carrying the API's
 * message and what to do (exit 1, or 3 for an unreachable gateway or a refused key).
 */
export async function call<T>(api: Api, request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (err) {
    throw unreachable(api, err);
  }
  if (!answer.response.ok) throw apiError(answer.response, answer.error, api.url);
  // Every answer of the gateway's but a 204 has a body; an empty one came from something else.
  if (answer.data === undefined && answer.response.status !== 204) {
    throw new CliError(`${api.url} answered HTTP ${answer.response.status} with no body`, {
      exitCode: EXIT.unreachable,
      hint: NOT_THE_GATEWAY,
    });
  }
  return answer.data as T;
}

/** One page of a list, as every paged route of the API answers. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Where a page starts and how long it is: what every paged route takes. */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/**
 * The pages of a list from `first.cursor` on, `first.limit` rows each, following `nextCursor`
 * until the last page (or until the caller stops reading).
 */
export async function* eachPage<P extends Page<unknown>>(
  api: Api,
  fetchPage: (query: PageQuery) => Promise<Answer<P>>,
  first: PageQuery,
): AsyncGenerator<P> {
  let cursor = first.cursor;
  do {
    const page = await call(api, fetchPage({ limit: first.limit, ...(cursor ? { cursor } : {}) }));
    yield page;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
