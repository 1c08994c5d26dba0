import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { startOtlpReceiver } from '../src/index.ts';

const traceId = '5b8efff798038103d269b633813fc60c';
const rootId = 'eee19b7ec3c1b174';
const childId = 'eee19b7ec3c1b173';
/** A span of another trace the child links to (a batch's message, say); ids come back lower-case. */
const LINKED = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };

// Shaped like @opentelemetry/exporter-trace-otlp-http's JSON (hex ids, string nanos).
const payload = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'sync-worker' } },
          { key: 'process.pid', value: { intValue: 4242 } },
        ],
      },
      scopeSpans: [
        {
          scope: { name: '@opentelemetry/instrumentation-amqplib', version: '0.71.0' },
          spans: [
            {
              traceId,
              spanId: childId,
              parentSpanId: rootId,
              name: 'sync.request process',
              kind: 5,
              startTimeUnixNano: '1700000000200000000',
              endTimeUnixNano: '1700000000300000000',
              attributes: [
                { key: 'messaging.system', value: { stringValue: 'rabbitmq' } },
                { key: 'messaging.redelivered', value: { boolValue: false } },
                { key: 'retries', value: { intValue: '2' } },
                {
                  key: 'tags',
                  value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } },
                },
              ],
              status: { code: 0 },
              links: [{ traceId: LINKED.traceId.toUpperCase(), spanId: LINKED.spanId }],
            },
            {
              traceId,
              spanId: rootId,
              name: 'GET /platforms',
              kind: 2,
              startTimeUnixNano: '1700000000100000000',
              endTimeUnixNano: '1700000000400000000',
              attributes: [],
              status: { code: 2 },
            },
          ],
        },
      ],
    },
  ],
};

async function startReceiver(t: TestContext) {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.stop());
  return receiver;
}

function post(url: string, body: string | Uint8Array, contentType: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

describe('OTLP receiver', { timeout: 20_000 }, () => {
  it('when a JSON trace export arrives, then answers 200 {} and collects flattened spans', async (t) => {
    const receiver = await startReceiver(t);
    assert.match(receiver.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await post(
      `${receiver.url}/v1/traces`,
      JSON.stringify(payload),
      'application/json',
    );

    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const spans = receiver.spans();
    assert.equal(spans.length, 2);
    const child = spans.find((span) => span.spanId === childId);
    assert.deepEqual(child && { ...child }, {
      traceId,
      spanId: childId,
      parentSpanId: rootId,
      name: 'sync.request process',
      kind: 5,
      service: 'sync-worker',
      scope: '@opentelemetry/instrumentation-amqplib',
      attributes: {
        'messaging.system': 'rabbitmq',
        'messaging.redelivered': false,
        retries: 2,
        tags: ['a', 'b'],
      },
      startTimeUnixNano: '1700000000200000000',
      endTimeUnixNano: '1700000000300000000',
      statusCode: 0,
      resourceAttributes: { 'service.name': 'sync-worker', 'process.pid': 4242 },
      links: [LINKED],
    });
    const root = spans.find((span) => span.spanId === rootId);
    assert.deepEqual(root?.links, []);
    assert.equal(root?.parentSpanId, undefined);
    assert.ok(root && !('parentSpanId' in root), 'a root span has no parentSpanId key');
  });

  it('when asked for a trace, then returns its spans by start time', async (t) => {
    const receiver = await startReceiver(t);
    await post(`${receiver.url}/v1/traces`, JSON.stringify(payload), 'application/json');

    assert.deepEqual(
      receiver.trace(traceId.toUpperCase()).map((span) => span.name),
      ['GET /platforms', 'sync.request process'],
    );
    assert.deepEqual(receiver.trace('0'.repeat(32)), []);
  });

  it('when metrics and logs are exported, then accepts and ignores them', async (t) => {
    const receiver = await startReceiver(t);

    const metrics = await post(
      `${receiver.url}/v1/metrics`,
      new Uint8Array([1, 2]),
      'application/x-protobuf',
    );
    const logs = await post(`${receiver.url}/v1/logs`, '{"resourceLogs":[]}', 'application/json');

    assert.equal(metrics.status, 200);
    assert.equal(logs.status, 200);
    assert.deepEqual(await logs.json(), {});
    assert.deepEqual(receiver.spans(), []);
  });

  it('when traces come as protobuf, then answers 415 and records the rejection', async (t) => {
    const receiver = await startReceiver(t);

    const res = await post(
      `${receiver.url}/v1/traces`,
      new Uint8Array([10, 0]),
      'application/x-protobuf',
    );

    assert.equal(res.status, 415);
    assert.equal(receiver.rejected()[0]?.contentType, 'application/x-protobuf');
    assert.deepEqual(receiver.spans(), []);
  });

  it('when ids are base64 (spec proto3 JSON), then they are stored as hex', async (t) => {
    const receiver = await startReceiver(t);
    const span = payload.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
    const base64 = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  ...span,
                  traceId: Buffer.from(traceId, 'hex').toString('base64'),
                  spanId: Buffer.from(rootId, 'hex').toString('base64'),
                },
              ],
            },
          ],
        },
      ],
    };

    await post(`${receiver.url}/v1/traces`, JSON.stringify(base64), 'application/json');

    assert.equal(receiver.spans()[0]?.traceId, traceId);
    assert.equal(receiver.spans()[0]?.spanId, rootId);
    assert.equal(receiver.spans()[0]?.service, '');
  });

  it('when cleared, then forgets collected spans', async (t) => {
    const receiver = await startReceiver(t);
    await post(`${receiver.url}/v1/traces`, JSON.stringify(payload), 'application/json');

    receiver.clear();

    assert.deepEqual(receiver.spans(), []);
  });
});
