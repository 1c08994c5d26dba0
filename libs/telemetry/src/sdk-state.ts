import { diag } from '@opentelemetry/api';

/** What `shutdownTelemetry` needs from a started SDK. */
export interface StartedSdk {
  shutdown(): Promise<void>;
}

export interface ShutdownTelemetryOptions {
  /** Give up flushing after this long; 5 s when omitted. */
  timeoutMs?: number;
  /** Told when the flush fails or times out (collector down…); OpenTelemetry's `diag` otherwise. */
  onError?: (err: unknown) => void;
}

// The one process-wide singleton: the NodeSDK started by `register.ts`, if any.
let started: StartedSdk | undefined;

export function setStartedSdk(sdk: StartedSdk): void {
  started = sdk;
}

/**
 * Flushes pending spans and stops the OpenTelemetry SDK; call it last in a service's graceful
 * stop. A no-op when tracing is off (no `OTEL_EXPORTER_OTLP_ENDPOINT`) or already shut down.
 * Never rejects: an unreachable collector must not turn a clean stop into a crash.
 */
export async function shutdownTelemetry(options: ShutdownTelemetryOptions = {}): Promise<void> {
  const sdk = started;
  started = undefined;
  if (!sdk) return;
  const timeoutMs = options.timeoutMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`span flush timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([sdk.shutdown(), timeout]);
  } catch (err) {
    if (options.onError) options.onError(err);
    else diag.warn('telemetry shutdown failed', err);
  } finally {
    clearTimeout(timer);
  }
}
