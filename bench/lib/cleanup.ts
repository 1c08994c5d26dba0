/**
 * Everything the run starts registers how to undo it here; `runCleanups` undoes it in reverse
 * order. It runs at the end, on failure and on Ctrl-C, so no process, vhost or database outlives
 * the run.
 */
const cleanups: { name: string; fn: () => Promise<unknown> }[] = [];
let running: Promise<void> | undefined;

export function onCleanup(name: string, fn: () => Promise<unknown>): void {
  cleanups.push({ name, fn });
}

export function runCleanups(): Promise<void> {
  running ??= (async () => {
    while (cleanups.length > 0) {
      const { name, fn } = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`bench: cleanup of ${name} failed: ${String(err)}`);
      }
    }
  })();
  return running;
}

/** Ctrl-C or SIGTERM: clean up, then exit 130/143. A second signal exits at once. */
export function installSignalCleanup(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (running) process.exit(code);
      console.error(`\nbench: ${signal}, cleaning up…`);
      void runCleanups().finally(() => process.exit(code));
    });
  }
}
