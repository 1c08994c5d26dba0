import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RPC_OPERATIONS, SERVICES } from '@psc/contracts';
import { ARCHITECTURE, render } from '../../scripts/topology-docs.ts';

/**
 * The RPC table's rows: the operations named in the first column, and the services named in the
 * last (*Callers*) before any remark: text in parentheses and after a `;` is commentary.
 */
function documentedCallers(document: string): Map<string, string[]> {
  const section = document.slice(document.indexOf('## Request/reply (RPC)'));
  const table = section.slice(section.indexOf('\n|'));
  const rows = table.slice(1, table.indexOf('\n\n')).split('\n').slice(2);
  const callers = new Map<string, string[]>();
  for (const row of rows) {
    const cells = row.split(/(?<!\\)\|/).slice(1, -1);
    const named = (cells.at(-1) ?? '')
      .replace(/\([^)]*\)/g, '')
      .split(';')[0]!
      .split(',');
    const services = named
      .map((part) => part.trim().split(/\s/)[0]!)
      .filter((word) => (SERVICES as readonly string[]).includes(word))
      .sort();
    for (const [, op] of (cells[0] ?? '').matchAll(/`([^`]+)`/g)) callers.set(op!, services);
  }
  return callers;
}

describe('docs/ARCHITECTURE.md', () => {
  it('when the topology table changes, then the document’s exchange, queue and message tables must be regenerated (npm run docs)', () => {
    const document = readFileSync(ARCHITECTURE, 'utf8');
    assert.equal(
      render(document),
      document,
      'docs/ARCHITECTURE.md is out of date with libs/contracts/src/topology-table.ts: run `npm run docs`',
    );
  });

  it('when an operation is added or its callers change, then the RPC table lists it with exactly the callers its definition names (their broker permissions follow from those)', () => {
    const documented = documentedCallers(readFileSync(ARCHITECTURE, 'utf8'));
    for (const op of RPC_OPERATIONS) {
      assert.deepEqual(
        documented.get(op.type),
        [...op.callers].sort(),
        `docs/ARCHITECTURE.md, Request/reply: ${op.type} (${op.service})`,
      );
    }
  });
});
