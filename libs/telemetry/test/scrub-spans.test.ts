import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOtlpReceiver, type OtlpReceiver } from '@psc/testing';
import { scrubUrlText } from '../src/index.ts';
import { runFixture } from './support/run-fixture.ts';

describe('span scrubbing', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(() => receiver?.stop());

  it('when a process calls URLs with credentials in the query or user info, then no exported span holds them and the rest of the URL stays', async () => {
    const { code, stderr } = await runFixture(
      new URL('./fixtures/secret-urls.ts', import.meta.url),
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'scrub-fixture',
      },
    );
    assert.equal(code, 0, stderr);
    const spans = receiver.spans();
    const clients = spans.filter((s) => s.kind === 3);
    assert.ok(clients.length >= 3, `client spans: ${spans.map((s) => s.name).join(', ')}`);
    const exported = JSON.stringify(spans);
    assert.doesNotMatch(exported, /S3CR3T/);
    const urls = clients.map((s) => String(s.attributes['url.full'] ?? s.attributes['http.url']));
    assert.ok(
      urls.some((u) => u.endsWith('/a?api_key=***&page=2')),
      urls.join('\n'),
    );
    assert.ok(
      urls.some((u) => u.endsWith('/b?booth_code=***&page=3')),
      urls.join('\n'),
    );
    assert.ok(
      urls.some((u) => u.includes('/c?access_token=***')),
      urls.join('\n'),
    );
  });

  it('when text quotes URLs, then user info and secret-looking parameters are masked and the rest is kept', () => {
    assert.equal(
      scrubUrlText('GET https://bob:pw@api.test/x?page=2&apiKey=k1&sig=s&q=a%3Db'),
      'GET https://***@api.test/x?page=2&apiKey=***&sig=***&q=a%3Db',
    );
    assert.equal(scrubUrlText('access_token=t&limit=5'), 'access_token=***&limit=5');
    assert.equal(scrubUrlText('/plain/path'), '/plain/path');
  });
});
