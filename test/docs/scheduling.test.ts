import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKFILL_STEPS,
  MAX_BACKFILL_STEPS,
  backfillRequest,
} from '../../libs/contracts/src/index.ts';
import { citationTests, readDocument, tableRows } from './support/doc-claims.ts';

const thousands = (n: number) => n.toLocaleString('en-US');

/** Whether the request takes `low` and `high` for a field and refuses the values just outside. */
function takesRange(field: 'maxConcurrent' | 'priority', low: number, high: number): boolean {
  const ok = (v: number) => backfillRequest.shape[field].safeParse(v).success;
  return ok(low) && ok(high) && !ok(low - 1) && !ok(high + 1);
}

describe('docs/SCHEDULING.md', () => {
  const document = readDocument('SCHEDULING.md');

  citationTests(document, 12);

  it('when the backfill table gives a default or a bound, then it is the contract’s', () => {
    const fields = new Map(tableRows(document, '## Backfills').map((r) => [r[0]!, r[1]!]));
    const defaults = backfillRequest.parse({
      platformId: '00000000-0000-4000-8000-000000000000',
      resource: 'r',
      taskType: 'sync',
      from: '2024-05-01',
      to: '2024-05-02',
    });
    assert.equal(
      fields.get('`step`'),
      `${BACKFILL_STEPS.map((s) => `\`${s}\`${s === defaults.step ? ' (default)' : ''}`)
        .join(', ')
        .replace(
          /, ([^,]*)$/,
          ' or $1',
        )}, in \`timezone\`; at most ${thousands(MAX_BACKFILL_STEPS)} steps`,
    );
    assert.equal(fields.get('`timezone`'), `IANA name, default \`${defaults.timezone}\``);
    const concurrent = /^runs open .*, (\d+)–(\d+), default (\d+)$/.exec(
      fields.get('`maxConcurrent`') ?? '',
    );
    assert.ok(concurrent, fields.get('`maxConcurrent`'));
    assert.ok(takesRange('maxConcurrent', Number(concurrent[1]), Number(concurrent[2])));
    assert.equal(Number(concurrent[3]), defaults.maxConcurrent);
    const priority = /^(\d+)–(\d+), default the platform's$/.exec(fields.get('`priority`') ?? '');
    assert.ok(priority, fields.get('`priority`'));
    assert.ok(takesRange('priority', Number(priority[1]), Number(priority[2])));
    assert.equal(defaults.priority, undefined, 'no default of its own: the platform’s');
  });
});
