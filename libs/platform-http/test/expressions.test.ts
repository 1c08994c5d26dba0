import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '@psc/core';
import {
  DEFAULT_EXPRESSION_BUDGET,
  configureExpressions,
  evaluate,
  expressionBudget,
  expressionProblem,
} from '../src/index.ts';

/** Rejects with the AppError `evaluate` throws; fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the evaluation to fail');
}

async function overBudget(source: string, input: unknown, limit: RegExp): Promise<void> {
  const err = await failure(evaluate(source, input, 'mapping.total'));
  assert.equal(err.code, 'mapping_limit', err.message);
  assert.equal(err.retryable, false);
  assert.match(err.message, /^mapping\.total: over its budget: /);
  assert.match(err.message, limit);
  assert.deepEqual(err.details, { path: 'mapping.total' });
}

describe('JSONata evaluation budget', () => {
  // A short time budget keeps the runaway cases quick; the others use the defaults' sizes.
  before(() => configureExpressions({ timeoutMs: 300 }));
  after(() => configureExpressions({}));

  it('when an expression recurses forever, then it fails with mapping_limit naming the field and the time budget', async () => {
    await overBudget('($f := function($n){ $f($n + 1) }; $f(0))', {}, /longer than 300 ms/);
  });

  it('when an expression nests deeper than maxDepth, then it fails with mapping_limit', async () => {
    // Time is not what should stop it: 500 levels can take over 300 ms on a busy machine.
    configureExpressions({ timeoutMs: 60_000 });
    try {
      await overBudget(
        '($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))',
        {},
        /deeper than 500 levels/,
      );
    } finally {
      configureExpressions({ timeoutMs: 300 });
    }
  });

  it('when an expression walks platform data nested 100,000 levels deep, then it fails with mapping_limit instead of overflowing the stack, and a plain path over it still answers', async () => {
    const deep = JSON.parse(`${'{"x":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    await overBudget('**.x', deep, /ran out of room/);
    await overBudget('$string(x)', deep, /ran out of room/);
    assert.equal(typeof (await evaluate('x', deep, 'mapping.total')), 'object');
  });

  it('when an expression builds a sequence longer than maxSequence, then it fails before using the memory', async () => {
    await overBudget('$count([1..5000000])', {}, /sequence longer than 1000000/);
    await overBudget('$count($split(s, ""))', { s: 'x'.repeat(1_500_000) }, /longer than 1000000/);
    await overBudget('$eval("[1..9000000]")', {}, /sequence longer than 1000000/);
  });

  it('when an expression would allocate more than maxOutputBytes, then it fails before the allocation', async () => {
    // Time is not what should stop these, even on a busy machine.
    configureExpressions({ timeoutMs: 60_000 });
    try {
      const bytes = String(DEFAULT_EXPRESSION_BUDGET.maxOutputBytes);
      await overBudget('$pad("", 500000000)', {}, new RegExp(`\\$pad would allocate.*${bytes}`));
      await overBudget('$join([1..100].($$.s))', { s: 'x'.repeat(400_000) }, new RegExp(bytes));
      await overBudget(
        '$replace(s, "a", $pad("", 2000, "x"))',
        { s: 'a'.repeat(100_000) },
        /\$replace would allocate/,
      );
      await overBudget('$count([1..900000].[1..900000])', {}, /would allocate/);
    } finally {
      configureExpressions({ timeoutMs: 300 });
    }
  });

  it('when a regular expression would backtrack catastrophically on platform data, then it runs in linear time and answers', async () => {
    const hostile = `${'a'.repeat(50_000)}!`;
    assert.equal(await evaluate('$contains(s, /^(a+)+$/)', { s: hostile }, 'mapping.x'), false);
    assert.equal(await evaluate('$contains(s, /(a|aa)*b/)', { s: hostile }, 'mapping.x'), false);
    assert.deepEqual(await evaluate('$match(s, /(\\d+)-(\\d+)/).groups', { s: 'x 12-34' }, 'k'), [
      '12',
      '34',
    ]);
    assert.equal(
      await evaluate('$replace(s, /(\\w+)@(\\w+)/i, "$2 at $1")', { s: 'Ann@Corp' }, 'k'),
      'Corp at Ann',
    );
    assert.deepEqual(await evaluate('$split(s, /[,;] ?/)', { s: 'a, b;c' }, 'k'), ['a', 'b', 'c']);
    const found = await evaluate('$match(s, /é(.)/).index', { s: '😀😀é1 é2' }, 'k');
    assert.deepEqual([...(found as number[])], [4, 7]);
  });

  it('when a regex needs backreferences or lookaround, then the expression is refused with the reason', async () => {
    assert.match(expressionProblem('$match(x, /(a)\\1/)') ?? '', /backtracking feature/);
    assert.match(expressionProblem('$match(x, /a(?=b)/)') ?? '', /backtracking feature/);
    assert.match(expressionProblem('foo(') ?? '', /invalid JSONata/);
    assert.equal(expressionProblem('$match(x, /(?<year>\\d{4})-\\d{2}/i)'), undefined);
    const err = await failure(evaluate('$eval("$match(x, /(a)\\\\1/)")', { x: 'aa' }, 'key'));
    assert.equal(err.code, 'mapping_failed');
    assert.match(err.message, /^key: /);
  });

  it('while a runaway expression uses its whole time budget, then other evaluations and timers keep running', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 5);
    const order: string[] = [];
    const runaway = evaluate('($f := function($n){ $f($n + 1) }; $f(0))', {}, 'mapping.slow')
      .catch(() => undefined)
      .then(() => order.push('runaway'));
    const quick = evaluate('$sum(data.n)', { data: [{ n: 1 }, { n: 2 }] }, 'mapping.quick').then(
      (sum) => order.push(`quick=${String(sum)}`),
    );
    await Promise.all([runaway, quick]);
    clearInterval(timer);
    assert.deepEqual(order, ['quick=3', 'runaway']);
    assert.ok(ticks >= 5, `timers ran ${ticks} times during the runaway evaluation`);
  });

  it('when a broken expression or a failing function is evaluated, then it fails with the caller code as before', async () => {
    const err = await failure(evaluate('$number("x")', {}, 'key', 'bad_key'));
    assert.equal(err.code, 'bad_key');
    assert.match(err.message, /^key: /);
    assert.deepEqual(await evaluate('data[n > 1].n', { data: [{ n: 1 }, { n: 2 }] }, 'k'), 2);
  });

  it('when the budget is configured, then later evaluations use it and the defaults come back with {}', async () => {
    configureExpressions({ maxSequence: 100 });
    try {
      await overBudget('$count([1..101])', {}, /longer than 100 items/);
      assert.equal(await evaluate('$count([1..100])', {}, 'k'), 100);
    } finally {
      configureExpressions({ timeoutMs: 300 });
    }
    assert.equal(expressionBudget().maxSequence, DEFAULT_EXPRESSION_BUDGET.maxSequence);
  });
});
