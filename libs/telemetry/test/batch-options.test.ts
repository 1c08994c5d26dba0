import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BATCH_DEFAULTS, batchOptionsFromEnv } from '../src/batch-options.ts';
import { runFixture } from './support/run-fixture.ts';

interface OtlpExport {
  resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
}

/** The value of the sample `name{…labels}` among the lines the fixture printed. */
function sample(stdout: string, name: string, labels = ''): number | undefined {
  const pattern = new RegExp(
    `^${name}\\{${labels}${labels ? ',' : ''}service="fixture"\\} (\\d+)$`,
    'm',
  );
  const match = pattern.exec(stdout);
  return match ? Number(match[1]) : undefined;
}

/** The warning lines about dropped spans the fixture wrote to stderr. */
function dropWarnings(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['msg'] === 'trace spans dropped');
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
          err.message.includes('OTEL_BSP_MAX_QUEUE_SIZE') && err.message.includes(`"${bad}"`),
      );
    });
  }
});

describe('span batching in a traced process', () => {
  let receiver: Server;
  let endpoint: string;
  let received = 0;
  let status = 200;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport;
        for (const rs of body.resourceSpans)
          for (const ss of rs.scopeSpans) received += ss.spans.length;
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  const burst = async (count: number, env: Record<string, string> = {}, answer = 200) => {
    received = 0;
    status = answer;
    const run = await runFixture(
      new URL('./fixtures/span-burst.ts', import.meta.url),
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...env },
      [String(count)],
    );
    return { ...run, received };
  };

  it('when 20,000 spans end in one turn, then every one is exported (the standard queue would keep 2,048), counted, and none counted as dropped', async () => {
    const { code, stdout, stderr, received: spans } = await burst(20_000);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /span flush failed/);
    assert.equal(spans, 20_000);
    assert.equal(sample(stdout, 'psc_trace_spans_exported_total'), 20_000);
    assert.equal(sample(stdout, 'psc_trace_spans_dropped_total', 'reason="queue_full"'), 0);
    assert.equal(sample(stdout, 'psc_trace_spans_dropped_total', 'reason="export_failed"'), 0);
    assert.deepEqual(dropWarnings(stderr), []);
  });

  it('when OTEL_BSP_MAX_QUEUE_SIZE is 100, then it is honoured: spans past what the queue holds are dropped, counted as queue_full to the span, and one warning says so', async () => {
    const {
      code,
      stdout,
      stderr,
      received: spans,
    } = await burst(5_000, {
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_SERVICE_NAME: 'burst-svc',
    });
    assert.equal(code, 0, stderr);
    // One full batch leaves for export as the queue fills; the queue then fills once more.
    assert.ok(spans >= 100 && spans <= 200, `${spans} spans exported`);
    assert.equal(
      sample(stdout, 'psc_trace_spans_dropped_total', 'reason="queue_full"'),
      5_000 - spans,
    );
    assert.equal(sample(stdout, 'psc_trace_spans_dropped_total', 'reason="export_failed"'), 0);
    assert.equal(sample(stdout, 'psc_trace_spans_exported_total'), spans);
    // The whole burst dropped in one turn: one line, not one per span.
    const warnings = dropWarnings(stderr);
    assert.equal(warnings.length, 1, stderr);
    assert.deepEqual(
      { ...warnings[0], time: undefined, hint: undefined },
      {
        level: 'warn',
        time: undefined,
        service: 'burst-svc',
        reason: 'queue_full',
        dropped: 5_000 - spans,
        maxQueueSize: 100,
        hint: undefined,
        msg: 'trace spans dropped',
      },
    );
    assert.match(String(warnings[0]?.['hint']), /OTEL_BSP_MAX_QUEUE_SIZE/);
  });

  it('when the collector answers 503, then every span sent is counted as export_failed and a warning gives the error', async () => {
    const {
      code,
      stdout,
      stderr,
      received: spans,
    } = await burst(
      1_300, // three batches, each of them refused
      { OTEL_EXPORTER_OTLP_TIMEOUT: '300' }, // no time left for the exporter to retry
      503,
    );
    assert.equal(code, 0, stderr);
    assert.equal(spans, 1_300, 'every span was sent');
    assert.equal(sample(stdout, 'psc_trace_spans_dropped_total', 'reason="export_failed"'), 1_300);
    assert.equal(sample(stdout, 'psc_trace_spans_dropped_total', 'reason="queue_full"'), 0);
    assert.equal(sample(stdout, 'psc_trace_spans_exported_total'), 0);
    // The first failure is told at once; the rest, within the minute, when the process exits.
    const warnings = dropWarnings(stderr);
    assert.ok(warnings.length >= 1 && warnings.length <= 2, stderr);
    assert.equal(
      warnings.reduce((sum, line) => sum + Number(line['dropped']), 0),
      1_300,
    );
    for (const line of warnings) {
      assert.equal(line['reason'], 'export_failed');
      assert.match(String(line['err']), /retryable status/);
    }
  });

  it('when OTEL_BSP_MAX_QUEUE_SIZE is not a number, then the process exits 1 with one line naming it, as a service’s config error, and sends nothing', async () => {
    const {
      code,
      stderr,
      received: spans,
    } = await burst(10, {
      OTEL_BSP_MAX_QUEUE_SIZE: 'big\nqueue',
    });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'invalid configuration: OTEL_BSP_MAX_QUEUE_SIZE must be a whole number from 1 to 2147483647 (got "big\\nqueue")\n',
    );
    assert.equal(spans, 0);
  });
});
