import { STATUS_CODES } from 'node:http';
import { currentTraceId } from '@psc/telemetry';

/** Body of every psc error response. */
export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    details?: unknown;
    /** Trace of the failed request, when tracing is on: quote it when reporting a problem. */
    traceId?: string;
  };
}

/** Builds the error envelope, stamping the active trace id. */
export function errorEnvelope(code: string, message: string, details?: unknown): ErrorEnvelope {
  const traceId = currentTraceId();
  return {
    error: {
      code,
      message,
      ...(details === undefined ? {} : { details }),
      ...(traceId === null ? {} : { traceId }),
    },
  };
}

/** `413` → `payload_too_large`: the code for statuses raised outside our own errors. */
export function codeForStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text ? text.toLowerCase().replace(/[^a-z0-9]+/g, '_') : `http_${status}`;
}
