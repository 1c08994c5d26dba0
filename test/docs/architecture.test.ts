import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ARCHITECTURE, render } from '../../scripts/topology-docs.ts';

describe('docs/ARCHITECTURE.md', () => {
  it('when the topology table changes, then the document’s exchange, queue and message tables must be regenerated (npm run docs)', () => {
    const document = readFileSync(ARCHITECTURE, 'utf8');
    assert.equal(
      render(document),
      document,
      'docs/ARCHITECTURE.md is out of date with libs/contracts/src/topology-table.ts: run `npm run docs`',
    );
  });
});
