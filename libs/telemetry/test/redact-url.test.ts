import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../src/index.ts';

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['amqp://user:pass@host', 'amqp://user:***@host'],
    ['postgres://u:p@h', 'postgres://u:***@h'],
    [
      'postgresql://u:p%40ss@h:5432/db?sslmode=require',
      'postgresql://u:***@h:5432/db?sslmode=require',
    ],
    ['redis://:only-password@cache:6379', 'redis://:***@cache:6379'],
    ['postgres://u:p@ss@h/db', 'postgres://u:***@h/db'],
    ['dial amqp://a:b@x and postgres://c:d@y', 'dial amqp://a:***@x and postgres://c:***@y'],
    ['https://example.test/a?b=c', 'https://example.test/a?b=c'],
    ['postgres://user@host/db', 'postgres://user@host/db'],
    ['mailto:someone@example.test', 'mailto:someone@example.test'],
  ];
  for (const [input, expected] of cases) {
    it(`when given ${input}, then ${expected}`, () => {
      assert.equal(redactUrl(input), expected);
    });
  }
});
