/** The exit codes scripts can rely on (docs/CLI.md). */
export const EXIT = {
  ok: 0,
  /** A job or operation failed, or the API refused it. */
  failed: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /** The gateway could not be reached, or refused the key. */
  unreachable: 3,
  /** Ctrl-C ended a wait (128 + SIGINT, as a shell reports it). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI explains to the user: what happened and what to do about it. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** The API's machine-readable reason, when it came from the API. */
  readonly code: string | undefined;
  readonly details: unknown;
  /** The HTTP status the gateway answered with, when it came from the API. */
  readonly status: number | undefined;
  /** The gateway's trace id of a failed request: what its logs are searched by. */
  readonly traceId: string | undefined;
  /**
   * The gateway may answer if asked again: it did not answer (refused, reset, timed out) or
   * answered 502/503/504, as during a restart. A wait retries these for a while.
   */
  readonly transient: boolean;

  constructor(
    message: string,
    options: {
      exitCode: ExitCode;
      hint?: string;
      code?: string;
      details?: unknown;
      status?: number;
      traceId?: string;
      transient?: boolean;
    },
  ) {
    super(message);
    this.name = 'CliError';
    this.exitCode = options.exitCode;
    this.hint = options.hint;
    this.code = options.code;
    this.details = options.details;
    this.status = options.status;
    this.traceId = options.traceId;
    this.transient = options.transient ?? false;
  }
}

export const usageError = (message: string, hint?: string): CliError =>
  new CliError(message, { exitCode: EXIT.usage, ...(hint ? { hint } : {}) });
