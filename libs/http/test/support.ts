import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { createLogger, createMetrics, type Logger, type Metrics } from '@psc/telemetry';

type LogLine = Record<string, unknown>;

/** A logger whose lines are kept in memory; `waitFor` resolves when a matching line is written. */
export interface CapturedLogs {
  logger: Logger;
  lines: LogLine[];
  waitFor(predicate: (line: LogLine) => boolean): Promise<LogLine>;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const lines: LogLine[] = [];
  const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const destination = {
    write(text: string): void {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    },
  };
  return {
    logger: createLogger({ service: 'http-test', level, destination }),
    lines,
    waitFor(predicate) {
      const seen = lines.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

export function testMetrics(): Metrics {
  return createMetrics({ service: 'http-test' });
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

/** A raw node:http request, for what fetch will not send (no content-type, partial bodies). */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: OutgoingHttpHeaders;
    body?: string | Buffer;
    end?: boolean;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        req.destroy();
      });
    });
    if (options.body !== undefined) req.write(options.body);
    if (options.end !== false) req.end();
    else req.flushHeaders(); // node holds the headers back until the first write otherwise
  });
}
