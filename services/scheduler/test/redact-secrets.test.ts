import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED } from '@psc/contracts';
import { redactSecrets, redactText } from '../src/domain/redact-secrets.ts';

describe('secrets in a dead letter', () => {
  it('when a value is named like a credential at any depth, then only its value is hidden', () => {
    const message = {
      headers: { authorization: 'Bearer abc', 'X-Api-Key': 'k1', traceparent: '00-ab-cd-01' },
      payload: {
        params: {
          since: '2026-01-01',
          apiKey: 'k2',
          nested: [{ password: 'p1', name: 'n' }, { client_secret: 's1' }],
          empty: { token: null },
        },
      },
    };
    assert.deepEqual(redactSecrets(message), {
      headers: { authorization: REDACTED, 'X-Api-Key': REDACTED, traceparent: '00-ab-cd-01' },
      payload: {
        params: {
          since: '2026-01-01',
          apiKey: REDACTED,
          nested: [{ password: REDACTED, name: 'n' }, { client_secret: REDACTED }],
          empty: { token: null },
        },
      },
    });
  });

  it('when a text carries credentials by their form, then they are hidden and the rest kept', () => {
    assert.equal(
      redactText('GET https://u:pw@api.example/x?access_token=t1&page=2 with Bearer t2.t3.t4'),
      `GET https://***@api.example/x?access_token=***&page=2 with Bearer ${REDACTED}`,
    );
    assert.deepEqual(redactSecrets({ note: 'Basic dXNlcjpwYXNz' }), { note: `Basic ${REDACTED}` });
  });

  it('when JSON is cut inside a secret value, then the text still shows no part of it', () => {
    const cut = '{"type":"job.run","payload":{"params":{"password":"hunter2-and-more';
    const redacted = redactText(cut);
    assert.doesNotMatch(redacted, /hunter2/);
    assert.equal(redacted, `{"type":"job.run","payload":{"params":{"password":"${REDACTED}"`);
    assert.equal(
      redactText('{"a":1,"token":abc,"b":"x","secret":"y"}'),
      `{"a":1,"token":"${REDACTED}","b":"x","secret":"${REDACTED}"}`,
    );
  });

  it('when a value nests deeper than anyone writes by hand, then the deep part is hidden whole', () => {
    let deep: unknown = { token: 'x' };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    assert.doesNotMatch(JSON.stringify(redactSecrets(deep)), /"x"/);
  });
});
