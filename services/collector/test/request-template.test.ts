import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@psc/core';
import type { ResourceRequest } from '@psc/contracts';
import { renderRequest } from '../src/domain/request-template.ts';

const request = (path: string, query: Record<string, string> = {}): ResourceRequest => ({
  method: 'GET',
  path,
  query,
  headers: {},
});

const fullPath = (path: string) => new URL(`https://p.test/v1${path}`).pathname;

const refused = (path: string, params: Record<string, unknown>, code: string) =>
  assert.throws(
    () => renderRequest(request(path), params),
    (err: unknown) => err instanceof AppError && err.code === code && err.retryable === false,
  );

describe('collector request templates', () => {
  it('when params fill a path and a query, then the path holds them encoded and the query as given', () => {
    const rendered = renderRequest(request('/races/{{date}}/{{ meet }}', { q: '{{meet}}' }), {
      date: '2024-05-01',
      meet: 'ascot & york',
    });
    assert.equal(rendered.path, '/races/2024-05-01/ascot%20%26%20york');
    assert.deepEqual(rendered.query, { q: 'ascot & york' });
  });

  it('when a path param is .. or ., then the run fails with bad_param naming it, before any request', () => {
    for (const date of ['..', '.']) {
      assert.throws(
        () => renderRequest(request('/races/{{date}}/card'), { date }),
        (err: unknown) =>
          err instanceof AppError && err.code === 'bad_param' && /"date"/.test(err.message),
      );
    }
    refused('/races/{{a}}{{b}}', { a: '.', b: '.' }, 'bad_param');
  });

  it('when a path param holds slashes, backslashes, a query or encoded dots, then it stays inside its own segment', () => {
    const hostile = [
      '../../admin',
      '..\\..\\admin',
      '%2e%2e',
      '%2E.',
      '%2e%2e/%2e%2e/admin',
      'x?y=1#z',
    ];
    for (const date of hostile) {
      const rendered = renderRequest(request('/races/{{date}}/card'), { date });
      const path = fullPath(rendered.path);
      assert.match(path, /^\/v1\/races\/[^/]+\/card$/, `${date} → ${path}`);
      assert.equal(decodeURIComponent(path.split('/')[3]!), date);
    }
  });

  it('when a param is missing or not a scalar, then the run fails with missing_param', () => {
    refused('/races/{{date}}', {}, 'missing_param');
    refused('/races/{{date}}', { date: { nested: true } }, 'missing_param');
  });
});
