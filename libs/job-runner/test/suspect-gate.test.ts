import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSuspectGate } from '../src/suspect-gate.ts';

/** A run that ends when the test says so, recording when it started. */
function pending(log: string[], name: string) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  return {
    work: async () => {
      log.push(`start ${name}`);
      await ended;
      log.push(`end ${name}`);
    },
    end: () => end(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('suspect gate', () => {
  it('when a redelivered run arrives while others run, then it starts only after they end, alone, and the runs after it wait for it', async () => {
    const gate = createSuspectGate();
    const log: string[] = [];
    const a = pending(log, 'a');
    const b = pending(log, 'b');
    const suspect = pending(log, 'suspect');
    const c = pending(log, 'c');
    const runs = [gate.ordinary(a.work), gate.ordinary(b.work)];
    await settle();
    runs.push(gate.alone(suspect.work));
    runs.push(gate.ordinary(c.work));
    await settle();
    assert.deepEqual(log, ['start a', 'start b']);
    a.end();
    b.end();
    await settle();
    await settle();
    assert.deepEqual(log, ['start a', 'start b', 'end a', 'end b', 'start suspect']);
    suspect.end();
    await settle();
    await settle();
    assert.equal(log.at(-1), 'start c');
    c.end();
    await Promise.all(runs);
  });

  it('when two suspects arrive, then they run one after the other', async () => {
    const gate = createSuspectGate();
    const log: string[] = [];
    const s1 = pending(log, 's1');
    const s2 = pending(log, 's2');
    const runs = [gate.alone(s1.work), gate.alone(s2.work)];
    await settle();
    assert.deepEqual(log, ['start s1']);
    s1.end();
    await settle();
    await settle();
    assert.deepEqual(log, ['start s1', 'end s1', 'start s2']);
    s2.end();
    await Promise.all(runs);
  });
});
