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

  it('when a placeholder is named outside a–z ({{run_date}}, {{Date}}) or its format is over 64 characters, then it is refused naming the field, never sent as written', () => {
    for (const text of ['{{run_date}}', '{{Date}}', '{{ }}', `{{date:${'y'.repeat(65)}}}`]) {
      assert.throws(
        () => checkParamsTemplate({ a: { b: text } }, 'UTC'),
        (err: unknown) => err instanceof ValidationError && /params\.a\.b/.test(err.message),
        text,
      );
    }
    const longest = `{{date:'${'x'.repeat(58)}'yyyy}}`; // a format of 64 characters
    assert.deepEqual(renderParams({ d: longest }, at('2030-05-01T00:00:00Z')), {
      d: `${'x'.repeat(58)}2030`,
    });
  });

  it('when a template nests deeper than 10 levels, then it is refused; 10 levels are filled', () => {
    const nest = (levels: number): Record<string, unknown> =>
      levels === 1 ? { d: '{{date:yyyy}}' } : { n: nest(levels - 1) };
    let filled: unknown = renderParams(nest(10), at('2030-05-01T00:00:00Z'));
    for (let i = 1; i < 10; i++) filled = (filled as { n: unknown }).n;
    assert.deepEqual(filled, { d: '2030' }, 'a year is filled as text, not a number');
    assert.throws(() => checkParamsTemplate(nest(11), 'UTC'), /nests deeper than 10/);
  });

  it('when {{now}} is filled, then it is the moment the run is made, in the template’s time zone', () => {
    assert.deepEqual(
      renderParams({ at: "{{now:yyyy-MM-dd'T'HH:mm}}" }, at('2030-05-01T00:00:00Z', 'Asia/Seoul')),
      { at: '2031-01-01T21:34' },
    );
  });

  it('when nothing is a placeholder, then the params come back as they were', () => {
    const params = { date: '2024-05-01', n: 3, deep: { x: [true, null] } };
    assert.deepEqual(renderParams(params, at('2030-01-01T00:00:00Z')), params);
  });
});
