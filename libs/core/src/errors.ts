/**
 * The small error vocabulary shared by every psc service. HTTP edges map `status` and `code`
 * into the error envelope; message consumers use `retryable` to choose retry or dead-letter.
 */
export interface AppErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Whether a consumer may retry the work that failed with this error. */
  retryable?: boolean;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly retryable: boolean;

  constructor(code: string, status: number, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.retryable = options.retryable ?? status >= 500;
  }
}

export class ValidationError extends AppError {
  override name = 'ValidationError';
  constructor(message: string, details?: unknown) {
    super('validation_failed', 422, message, { details, retryable: false });
  }
}

export class BadRequestError extends AppError {
  override name = 'BadRequestError';
  constructor(message: string, details?: unknown) {
    super('bad_request', 400, message, { details, retryable: false });
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(message: string, details?: unknown) {
    super('not_found', 404, message, { details, retryable: false });
  }
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  constructor(message: string, details?: unknown) {
    super('conflict', 409, message, { details, retryable: false });
  }
}

/** A failure that retrying cannot fix: the message goes straight to the dead-letter queue. */
export class NonRetryableError extends AppError {
  override name = 'NonRetryableError';
  constructor(code: string, message: string, options: Omit<AppErrorOptions, 'retryable'> = {}) {
    super(code, 422, message, { ...options, retryable: false });
  }
}

/** A dependency (broker, service, platform) did not answer in time. */
export class TimeoutError extends AppError {
  override name = 'TimeoutError';
  constructor(message: string, details?: unknown) {
    super('timeout', 504, message, { details, retryable: true });
  }
}

/** A dependency is not reachable at all. */
export class UnavailableError extends AppError {
  override name = 'UnavailableError';
  constructor(message: string, details?: unknown) {
    super('unavailable', 503, message, { details, retryable: true });
  }
}

/** Serialisable form of an error, safe to put on the wire or into a reply. */
export interface ErrorBody {
  code: string;
  message: string;
  status: number;
  details?: unknown;
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) {
    return { code: err.code, message: err.message, status: err.status, details: err.details };
  }
  // Unknown errors may carry internals (SQL, hostnames, secrets): never echo their message.
  return { code: 'internal', message: 'internal error', status: 500 };
}

export function fromErrorBody(body: ErrorBody): AppError {
  return new AppError(body.code, body.status, body.message, { details: body.details });
}
