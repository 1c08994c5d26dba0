import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '@psc/core';
import { checkParamsTemplate, renderParams } from '../src/domain/params-template.ts';

const at = (date: string, timezone = 'UTC') => ({
  date: new Date(date),
  now: new Date('2031-01-01T12:34:56Z'),
  timezone,
});

describe('params templates', () => {
  it('fills date placeholders in the schedule’s time zone, in nested strings too', () => {
    // 23:30 UTC on the 1st is already the 2nd in Seoul.
    const out = renderParams(
      {
        date: '{{date:yyyyMMdd}}',
        meet: 'ascot',
        window: { from: '{{yesterday}}', to: '{{ today }}', label: 'day {{date:d MMM}}' },
        list: ['{{tomorrow:yyyy-MM-dd}}', 7],
      },
      at('2030-05-01T23:30:00Z', 'Asia/Seoul'),
    );
    assert.deepEqual(out, {
      date: '20300502',
      meet: 'ascot',
      window: { from: '2030-05-01', to: '2030-05-02', label: 'day 2 May' },
      list: ['2030-05-03', 7],
    });
  });

  it('when a placeholder is unknown or its format is not a date format, then the error names the field', () => {
    assert.throws(
      () => checkParamsTemplate({ a: { b: '{{datum}}' } }, 'UTC'),
      (err: unknown) =>
        err instanceof ValidationError &&
        /unknown placeholder/.test(err.message) &&
        /params\.a\.b/.test(err.message),
    );
    assert.throws(
      () => checkParamsTemplate({ d: '{{date:yyyy-MM-dd hello}}' }, 'UTC'),
      (err: unknown) => err instanceof ValidationError && /bad date format/.test(err.message),
    );
  });

  it('when a template holds more placeholders than the bound, then it is refused', () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, '{{date}}']));
    assert.throws(() => checkParamsTemplate(many, 'UTC'), /more than 100 placeholders/);
  });

  it('when nothing is a placeholder, then the params come back as they were', () => {
    const params = { date: '2024-05-01', n: 3, deep: { x: [true, null] } };
    assert.deepEqual(renderParams(params, at('2030-01-01T00:00:00Z')), params);
  });
});
