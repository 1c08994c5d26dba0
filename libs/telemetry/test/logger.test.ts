import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capturedLogger } from './log-capture.ts';

describe('createLogger', () => {
  it('when a line is logged, then it carries service and level and no trace ids without a span', () => {
    const { logger, lines } = capturedLogger();
    logger.info({ platformId: 'p1' }, 'hello');
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line?.['service'], 'svc-test');
    assert.equal(line?.['level'], 'info');
    assert.equal(line?.['platformId'], 'p1');
    assert.equal(line?.['msg'], 'hello');
    assert.equal('trace_id' in (line ?? {}), false);
  });

  it('when secrets are logged at several depths, then each is censored', () => {
    const { logger, lines } = capturedLogger();
    logger.info(
      {
        token: 't0',
        password: 'p0',
        auth: { token: 't1' },
        headers: { authorization: 'Bearer t2', 'x-api-key': 'k2' },
        req: { headers: { 'x-api-key': 'k3' } },
        platform: { credentials: { apiKey: 'k4', secret: 's4' } },
        keep: 'visible',
      },
      'secrets',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['t0', 'p0', 't1', 't2', 'k2', 'k3', 'k4', 's4']) {
      assert.doesNotMatch(text, new RegExp(`"${secret}"|Bearer ${secret}`), secret);
    }
    const [line] = lines;
    assert.equal(line?.['token'], '[redacted]');
    assert.deepEqual(line?.['headers'], { authorization: '[redacted]', 'x-api-key': '[redacted]' });
    assert.equal(line?.['keep'], 'visible');
  });

  it('when a child logger binds a secret, then it is censored too', () => {
    const { logger, lines } = capturedLogger();
    logger.child({ component: 'client', apiKey: 'k9' }).info('child');
    assert.equal(lines[0]?.['apiKey'], '[redacted]');
    assert.equal(lines[0]?.['component'], 'client');
  });

  it('when secrets sit in arrays, in an error of a client, or in a grandchild logger, then each is censored', () => {
    const { logger, lines } = capturedLogger();
    const err = Object.assign(new Error('request failed'), {
      config: { headers: { authorization: 'Bearer t5' } },
    });
    logger
      .child({ component: 'a' })
      .child({ nested: { token: 't6' } })
      .error({ items: [{ token: 't7' }, { ok: 1 }], err }, 'deep');
    const text = JSON.stringify(lines);
    for (const secret of ['t5', 't6', 't7']) assert.doesNotMatch(text, new RegExp(secret), secret);
    const [line] = lines;
    assert.deepEqual(line?.['items'], [{ token: '[redacted]' }, { ok: 1 }]);
    assert.deepEqual(line?.['nested'], { token: '[redacted]' });
    assert.equal(line?.['component'], 'a');
  });

  it("when a logged object holds a secret, then the caller's object is left as it was", () => {
    const { logger } = capturedLogger();
    const fields = { auth: { token: 't8' }, list: [{ password: 'p8' }] };
    logger.info(fields, 'copy on write');
    assert.deepEqual(fields, { auth: { token: 't8' }, list: [{ password: 'p8' }] });
  });

  it('when URL fields or an error message carry a password, then only the password is masked', () => {
    const { logger, lines } = capturedLogger();
    logger.error(
      {
        url: 'amqp://psc:hunter2@mq:5672/vhost',
        databaseUrl: 'postgres://u:p4ss@db:5432/psc',
        config: { amqpUrl: 'amqps://svc:s3cret@mq/' },
        err: new Error('connect failed for postgres://u:p4ss@db:5432/psc'),
        plainUrl: 'https://example.test/path',
      },
      'boom',
    );
    const [line] = lines;
    assert.equal(line?.['url'], 'amqp://psc:***@mq:5672/vhost');
    assert.equal(line?.['databaseUrl'], 'postgres://u:***@db:5432/psc');
    assert.deepEqual(line?.['config'], { amqpUrl: 'amqps://svc:***@mq/' });
    assert.equal(line?.['plainUrl'], 'https://example.test/path');
    const err = line?.['err'] as { message: string; stack: string; type: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'connect failed for postgres://u:***@db:5432/psc');
    assert.doesNotMatch(JSON.stringify(lines), /hunter2|p4ss|s3cret/);
  });

  it('when the level is warn, then info lines are dropped', () => {
    const { logger, lines } = capturedLogger('warn');
    logger.info('quiet');
    logger.warn('loud');
    assert.deepEqual(
      lines.map((l) => l['msg']),
      ['loud'],
    );
  });
});
