import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { flattenAttributes, normalizeId, type OtlpKeyValue } from './otlp-values.ts';

/** One span as received, flattened with its resource and scope. */
export interface CollectedSpan {
  /** Lower-case hex. */
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** The resource's `service.name`, '' if absent. */
  service: string;
  /** Instrumentation scope name. */
  scope: string;
  attributes: Record<string, unknown>;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resourceAttributes: Record<string, unknown>;
  /** The spans this one links to (other traces, e.g. the messages of a batch). */
  links: { traceId: string; spanId: string }[];
}

/** A request the receiver could not use, kept so a test can tell "no spans" from "bad export". */
export interface RejectedExport {
  path: string;
  contentType: string;
  reason: string;
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** All spans received so far, in arrival order. */
  spans(): CollectedSpan[];
  /** The spans of one trace, ordered by start time. */
  trace(traceId: string): CollectedSpan[];
  rejected(): RejectedExport[];
  clear(): void;
  stop(): Promise<void>;
}

interface ExportTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId?: string;
        spanId?: string;
        parentSpanId?: string;
        name?: string;
        kind?: number;
        startTimeUnixNano?: unknown;
        endTimeUnixNano?: unknown;
        attributes?: OtlpKeyValue[];
        status?: { code?: number };
        links?: { traceId?: string; spanId?: string }[];
      }[];
    }[];
  }[];
}

/**
 * Starts an OTLP/HTTP JSON collector on 127.0.0.1 (random port) that keeps every span posted to
 * `/v1/traces` in memory. `/v1/metrics` and `/v1/logs` are accepted and dropped, because the SDK
 * exports them by default. Protobuf traces cannot be decoded here: they are answered 415 and
 * listed in `rejected()`; set `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json`.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let collected: CollectedSpan[] = [];
  let rejected: RejectedExport[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://receiver').pathname;
    const contentType = req.headers['content-type'] ?? '';
    const raw = await readRaw(req);
    const isJson = contentType.includes('json');

    if (req.method !== 'POST' || !['/v1/traces', '/v1/metrics', '/v1/logs'].includes(path)) {
      reply(res, 404, true);
      return;
    }
    if (path !== '/v1/traces') {
      reply(res, 200, isJson);
      return;
    }
    if (!isJson) {
      rejected.push({ path, contentType, reason: 'only OTLP JSON is decoded' });
      reply(res, 415, true);
      return;
    }
    try {
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      collected.push(...toSpans(JSON.parse(text.toString('utf8')) as ExportTraceRequest));
      reply(res, 200, true);
    } catch (err) {
      rejected.push({ path, contentType, reason: String(err) });
      reply(res, 400, true);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => [...collected],
    trace: (traceId) =>
      collected
        .filter((span) => span.traceId === traceId.toLowerCase())
        .sort((a, b) => compareNanos(a.startTimeUnixNano, b.startTimeUnixNano)),
    rejected: () => [...rejected],
    clear() {
      collected = [];
      rejected = [];
    },
    stop() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function toSpans(request: ExportTraceRequest): CollectedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resourceAttributes = flattenAttributes(resourceSpans.resource?.attributes);
    const serviceName = resourceAttributes['service.name'];
    const service = typeof serviceName === 'string' ? serviceName : '';
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span): CollectedSpan => {
        const parentSpanId = normalizeId(span.parentSpanId);
        return {
          traceId: normalizeId(span.traceId) ?? '',
          spanId: normalizeId(span.spanId) ?? '',
          ...(parentSpanId ? { parentSpanId } : {}),
          name: span.name ?? '',
          kind: span.kind ?? 0,
          service,
          scope: scopeSpans.scope?.name ?? '',
          attributes: flattenAttributes(span.attributes),
          startTimeUnixNano: nanos(span.startTimeUnixNano),
          endTimeUnixNano: nanos(span.endTimeUnixNano),
          statusCode: span.status?.code ?? 0,
          resourceAttributes,
          links: (span.links ?? []).map((link) => ({
            traceId: normalizeId(link.traceId) ?? '',
            spanId: normalizeId(link.spanId) ?? '',
          })),
        };
      }),
    );
  });
}

/** OTLP JSON times may be decimal strings, numbers or protobuf.js Long-style {low, high}. */
function nanos(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    return ((BigInt(high >>> 0) << 32n) | BigInt(low >>> 0)).toString();
  }
  return '0';
}

function compareNanos(a: string, b: string): number {
  const diff = BigInt(a) - BigInt(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function reply(res: ServerResponse, status: number, json: boolean): void {
  // An empty protobuf message is zero bytes, so protobuf exporters get an empty success body.
  res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
  res.end(json ? '{}' : '');
}
