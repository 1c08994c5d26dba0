import type { ServiceProcess } from './service-process.ts';
import { waitFor } from './wait-for.ts';

/**
 * Waits until `${url}/ready` answers 2xx. A service that exits first fails the wait at once,
 * quoting its last lines; on any failure the process is stopped, so no half-started service
 * outlives its caller's error.
 */
export async function waitUntilReady(
  service: ServiceProcess,
  url: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const died = service.exited.then((exit) => {
    throw new Error(
      `${service.name} exited (${exit.signal ?? exit.code}): ${service.lines().slice(-5).join('\n')}`,
    );
  });
  died.catch(() => undefined);
  const ready = waitFor(async () => (await fetch(`${url}/ready`)).ok, {
    // Start-up is module loading and connecting: seconds on a quiet machine, but CI shares two
    // cores with other work, and a slow start is not what these tests check.
    timeoutMs: options.timeoutMs ?? 90_000,
    ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    message: `${service.name} ready`,
  });
  try {
    await Promise.race([ready, died]);
  } catch (err) {
    await service.stop();
    throw err;
  }
}

/** A psc service's start line: `{"url":"http://127.0.0.1:41234",…,"msg":"scheduler started"}`. */
const STARTED_LINE = /"url":"(http:\/\/[^"]+)".*"msg":"[^"]*(?:started|listening)"/;

/**
 * Waits until a psc service spawned with `HTTP_PORT=0` has logged the address it listens on, then
 * until `/ready` answers there; returns that URL. A port picked before the process starts can be
 * taken meanwhile by another test's process, whose `/ready` would then answer for a service that
 * failed to bind: the address the service itself reports cannot be anyone else's.
 */
export async function waitUntilStarted(
  service: ServiceProcess,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<string> {
  let url: string;
  try {
    const line = await service.waitForLine(STARTED_LINE, options.timeoutMs ?? 90_000);
    url = STARTED_LINE.exec(line)![1]!;
  } catch (err) {
    await service.stop();
    throw err;
  }
  await waitUntilReady(service, url, options);
  return url;
}
