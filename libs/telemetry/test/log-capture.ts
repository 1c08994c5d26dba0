import type { Logger } from '../src/index.ts';
import { createLogger } from '../src/index.ts';

/** A logger writing into memory, so tests read back exactly what would reach stdout. */
export function capturedLogger(level = 'info'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>),
  };
  return { logger: createLogger({ service: 'svc-test', level, destination }), lines };
}
