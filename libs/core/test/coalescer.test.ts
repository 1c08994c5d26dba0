import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { createCoalescer } from '@psc/core';

/** A send whose batches the test answers by hand. */
function manualSend() {
  const batches: { items: number[]; answer: (r: string[]) => void; fail: (e: Error) => void }[] =
    [];
  const send = (items: number[]) =>
    new Promise<string[]>((answer, fail) => batches.push({ items, answer, fail }));
  return { batches, send };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('createCoalescer (group commit for request/reply)', () => {
  it('when one caller calls, then its item goes alone at once', async () => {
    const { batches, send } = manualSend();
    const call = createCoalescer({ send, maxBatch: 10 });
    const result = call(1);
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1]],
    );
    batches[0]!.answer(['one']);
    assert.equal(await result, 'one');
  });

  it('when calls arrive while a batch is on its way, then they wait and go together, each getting its own answer', async () => {
    const { batches, send } = manualSend();
    const call = createCoalescer({ send, maxBatch: 3 });
    const first = call(1);
    await turn();
    const later = [2, 3, 4, 5].map((n) => call(n));
    await turn();
    assert.equal(batches.length, 1, 'nothing more is sent while the first batch is on its way');
    batches[0]!.answer(['a']);
    await first;
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1], [2, 3, 4]],
      'the waiting calls go together, at most maxBatch',
    );
    batches[1]!.answer(['b', 'c', 'd']);
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1], [2, 3, 4], [5]],
    );
    batches[2]!.answer(['e']);
    assert.deepEqual(await Promise.all(later), ['b', 'c', 'd', 'e']);
  });

  it("when a batch goes after the previous one, then it is sent in its first caller's context (its trace), not in the previous batch's", async () => {
    const caller = new AsyncLocalStorage<string>();
    const sentIn: (string | undefined)[] = [];
    const { batches, send } = manualSend();
    const call = createCoalescer({
      send: (items: number[]) => {
        sentIn.push(caller.getStore());
        return send(items);
      },
      maxBatch: 2,
    });
    const first = caller.run('request 1', () => call(1));
    await turn();
    const later = [2, 3, 4].map((n) => caller.run(`request ${n}`, () => call(n)));
    await turn();
    batches[0]!.answer(['one']);
    await first;
    await turn();
    batches[1]!.answer(['two', 'three']);
    await turn();
    batches[2]!.answer(['four']);
    assert.deepEqual(await Promise.all(later), ['two', 'three', 'four']);
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1], [2, 3], [4]],
    );
    assert.deepEqual(sentIn, ['request 1', 'request 2', 'request 4']);
  });

  it('when a batch fails, then every call in it fails and the next batch still goes', async () => {
    const { batches, send } = manualSend();
    const call = createCoalescer({ send, maxBatch: 10, maxInFlight: 1 });
    const failing = [call(1), call(2)];
    await turn();
    const next = call(3);
    batches[0]!.fail(new Error('broker away'));
    for (const p of failing) await assert.rejects(p, /broker away/);
    await turn();
    batches[1]!.answer(['three']);
    assert.equal(await next, 'three');
  });

  it('when maxInFlight is 2, then a second batch goes while the first is on its way', async () => {
    const { batches, send } = manualSend();
    const call = createCoalescer({ send, maxBatch: 10, maxInFlight: 2 });
    void call(1);
    await turn();
    void call(2);
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1], [2]],
    );
  });
});
