import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BATCH_DEFAULTS, batchOptionsFromEnv } from '../src/batch-options.ts';
import { runFixture } from './support/run-fixture.ts';

interface OtlpExport {
  resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
}

describe('batchOptionsFromEnv', () => {
  it('when no OTEL_BSP_* variable is set, then psc’s defaults hold', () => {
    assert.deepEqual(batchOptionsFromEnv({}), BATCH_DEFAULTS);
    assert.ok(BATCH_DEFAULTS.maxQueueSize > 2 * 10_000, 'a 10,000-run tick’s spans must fit');
  });

  it('when the variables are set, then each is taken, and a batch is never larger than the queue', () => {
    assert.deepEqual(
      batchOptionsFromEnv({
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_BSP_MAX_QUEUE_SIZE: ' 300 ',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
        OTEL_BSP_EXPORT_TIMEOUT: '5000',
      }),
      {
        scheduledDelayMillis: 1000,
        maxQueueSize: 300,
        maxExportBatchSize: 300,
        exportTimeoutMillis: 5000,
      },
    );
  });

  for (const bad of ['0', '-5', '1.5', '1e4', 'lots', '99999999999']) {
    it(`when OTEL_BSP_MAX_QUEUE_SIZE is '${bad}', then it throws naming the variable`, () => {
      assert.throws(
        () => batchOptionsFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: bad }),
        (err: Error) =>
          err.message.includes('OTEL_BSP_MAX_QUEUE_SIZE') && err.message.includes(`'${bad}'`),
      );
    });
  }
});

describe('span batching in a traced process', () => {
  let receiver: Server;
  let endpoint: string;
  let received = 0;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport;
        for (const rs of body.resourceSpans)
          for (const ss of rs.scopeSpans) received += ss.spans.length;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  const burst = async (count: number, env: Record<string, string> = {}) => {
    received = 0;
    const run = await runFixture(
      new URL('./fixtures/span-burst.ts', import.meta.url),
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...env },
      [String(count)],
    );
    return { ...run, received };
  };

  it('when 20,000 spans end in one turn, then every one is exported (the standard queue would keep 2,048)', async () => {
    const { code, stdout, stderr, received: spans } = await burst(20_000);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /span flush failed/);
    assert.equal(spans, 20_000);
  });

  it('when OTEL_BSP_MAX_QUEUE_SIZE is 100, then it is honoured: spans past what the queue holds are dropped', async () => {
    const {
      code,
      stderr,
      received: spans,
    } = await burst(5_000, {
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
    });
    assert.equal(code, 0, stderr);
    // One full batch leaves for export as the queue fills; the queue then fills once more.
    assert.ok(spans >= 100 && spans <= 200, `${spans} spans exported`);
  });

  it('when OTEL_BSP_MAX_QUEUE_SIZE is not a number, then the process does not start and says why', async () => {
    const { code, stderr, received: spans } = await burst(10, { OTEL_BSP_MAX_QUEUE_SIZE: 'big' });
    assert.notEqual(code, 0);
    assert.match(stderr, /OTEL_BSP_MAX_QUEUE_SIZE must be a whole number from 1 .*got 'big'/);
    assert.equal(spans, 0);
  });
});
