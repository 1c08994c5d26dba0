import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runFixture } from './support/run-fixture.ts';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}
interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  attributes: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const SERVER_KIND = 2;

function attribute(attributes: OtlpAttribute[], key: string): string | undefined {
  return attributes.find((a) => a.key === key)?.value.stringValue;
}

/** Runs the traced app to completion; its exit code and the JSON lines it printed. */
async function runTracedApp(
  env: Record<string, string>,
): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  const { code, stdout, stderr } = await runFixture(
    new URL('./fixtures/traced-app.ts', import.meta.url),
    env,
  );
  const lines = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, lines, stderr };
}

describe('register', () => {
  let receiver: Server;
  let endpoint: string;
  const exports: OtlpExport[] = [];
  const paths: string[] = [];

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        paths.push(req.url ?? '');
        if (req.url === '/v1/traces')
          exports.push(JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it('when OTEL_EXPORTER_OTLP_ENDPOINT is set, then spans are exported on shutdown and logs carry the trace id', async () => {
    const { code, lines, stderr } = await runTracedApp({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'fixture-svc',
    });
    assert.equal(code, 0, stderr);

    const resourceSpans = exports.flatMap((e) => e.resourceSpans);
    assert.ok(resourceSpans.length > 0, 'no spans exported');
    for (const rs of resourceSpans) {
      assert.equal(attribute(rs.resource.attributes, 'service.name'), 'fixture-svc');
    }
    const spans = resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans));
    const work = spans.find((s) => s.name === 'fixture.work');
    assert.ok(work, `no fixture.work span in ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(attribute(work.attributes, 'psc.fixture'), 'yes');

    const inside = lines.find((l) => l['msg'] === 'inside span');
    assert.equal(inside?.['trace_id'], work.traceId);
    assert.equal(inside?.['traceIdSeen'], work.traceId);
    assert.equal(typeof inside?.['span_id'], 'string');
    const outside = lines.find((l) => l['msg'] === 'outside span');
    assert.ok(outside);
    assert.equal(outside['trace_id'], undefined);

    // The ESM hook is in place (node:http is patched) and probes are not traced.
    const serverPaths = spans
      .filter((s) => s.kind === SERVER_KIND)
      .map((s) => attribute(s.attributes, 'url.path') ?? attribute(s.attributes, 'http.target'));
    assert.deepEqual(serverPaths, ['/things']);
    assert.ok(
      paths.every((p) => p === '/v1/traces'),
      `unexpected exports: ${paths.join(', ')}`,
    );
  });

  it('when the collector is unreachable, then shutdown reports the failure and the process still exits 0', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const { code, lines, stderr } = await runTracedApp({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '300', // the exporter's own retry budget, so the child exits soon
    });
    assert.equal(code, 0, stderr);
    const failure = lines.find((l) => l['msg'] === 'span flush failed');
    assert.ok(failure, 'shutdown failure not reported');
    assert.match(JSON.stringify(failure['err']), /ECONNREFUSED|timed out/);
  });

  it('when no endpoint is set, then nothing is started and no trace ids appear', async () => {
    exports.length = 0;
    const { code, lines, stderr } = await runTracedApp({ OTEL_SERVICE_NAME: 'fixture-svc' });
    assert.equal(code, 0, stderr);
    const inside = lines.find((l) => l['msg'] === 'inside span');
    assert.ok(inside);
    assert.equal(inside['traceIdSeen'], null);
    assert.equal(inside['trace_id'], undefined);
    assert.equal(exports.length, 0);
  });
});
