import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createLogShipper,
  createLogger,
  JOB_OUTCOME_FIELD,
  type ShippedLog,
} from '../src/index.ts';

const JOB = '0b6f3f4e-5d0c-4d43-9a35-6a3c2b1d7e90';

/** A logger whose shipper sends only when stopped, and what it sent. */
function shipping(options: { maxPerSecond?: number; maxBuffered?: number }) {
  const shipper = createLogShipper({ service: 'svc', flushMs: 10_000, ...options });
  const logger = createLogger({ service: 'svc', destination: { write: () => undefined }, shipper });
  const sent: ShippedLog[] = [];
  shipper.start((entries) => {
    sent.push(...entries);
    return Promise.resolve();
  });
  return { shipper, logger, sent };
}

describe('log shipper', () => {
  it('when a service logs, then warnings and job lines are shipped redacted, and plain info lines are not', async () => {
    const shipper = createLogShipper({ service: 'svc', flushMs: 10 });
    const sink = { write: () => undefined };
    const logger = createLogger({ service: 'svc', destination: sink, shipper });
    const sent: ShippedLog[] = [];
    shipper.start((entries) => {
      sent.push(...entries);
      return Promise.resolve();
    });
    logger.info('started');
    logger.info({ jobId: JOB, platformId: JOB }, 'page fetched');
    logger.warn({ token: 'sekrit', platformId: 'not-a-uuid' }, 'careful');
    await shipper.stop();

    assert.deepEqual(
      sent.map((e) => [e.level, e.message, e.jobId, e.platformId]),
      [
        ['info', 'page fetched', JOB, JOB],
        ['warn', 'careful', null, null],
      ],
    );
    assert.equal(sent[1]!.fields.token, '[redacted]');
  });

  it('when a log storm exceeds the rate, or sending fails, then the excess is dropped and reported as one count, never re-logged', async () => {
    const shipper = createLogShipper({ service: 'svc', maxPerSecond: 5, flushMs: 10_000 });
    const logger = createLogger({
      service: 'svc',
      destination: { write: () => undefined },
      shipper,
    });
    let fail = true;
    const sent: ShippedLog[][] = [];
    shipper.start((entries) => {
      sent.push(entries);
      return fail ? Promise.reject(new Error('broker down')) : Promise.resolve();
    });
    for (let i = 0; i < 100; i += 1) logger.error({ i }, 'storm');
    await shipper.stop();
    assert.equal(sent.length, 1, 'one batch, not one per line');
    assert.equal(sent[0]!.length, 6, 'five lines and the count of the rest');
    assert.match(sent[0]!.at(-1)!.message, /^95 log lines not shipped/);

    // The failed batch is counted into the next report.
    fail = false;
    shipper.start((entries) => {
      sent.push(entries);
      return Promise.resolve();
    });
    await shipper.stop();
    assert.match(sent[1]!.at(-1)!.message, /^6 log lines not shipped/);
  });

  it("when jobs end faster than the line rate allows, then every job's outcome line is shipped and only other lines are limited", async () => {
    const { shipper, logger, sent } = shipping({ maxPerSecond: 5 });
    for (let i = 0; i < 40; i += 1) {
      logger.info({ jobId: JOB, i }, 'page fetched');
      logger.info({ jobId: JOB, i, [JOB_OUTCOME_FIELD]: true }, 'job succeeded');
    }
    await shipper.stop();
    const outcomes = sent.filter((e) => e.message === 'job succeeded');
    assert.equal(outcomes.length, 40, 'every outcome line');
    assert.deepEqual(outcomes[0]!.fields, { i: 0 }, 'the marker is not a field of the entry');
    assert.equal(sent.filter((e) => e.message === 'page fetched').length, 5);
    assert.match(sent.at(-1)!.message, /^35 log lines not shipped/);
  });

  it('when outcome lines outrun the buffer, then the buffer still bounds them', async () => {
    const { shipper, logger, sent } = shipping({ maxBuffered: 10 });
    for (let i = 0; i < 25; i += 1)
      logger.info({ jobId: JOB, [JOB_OUTCOME_FIELD]: true }, 'job succeeded');
    await shipper.stop();
    assert.equal(sent.length, 11, 'ten lines and the count of the rest');
    assert.match(sent.at(-1)!.message, /^15 log lines not shipped/);
  });
});
