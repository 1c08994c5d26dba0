import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ResourceDefinition } from '@psc/contracts';
import type { NonRetryableError } from '@psc/core';
import { evaluate } from '@psc/platform-http';
import { canonicalJson, collapseDuplicates, extractItems, mapItem } from '../src/domain/mapping.ts';

describe('sync-worker.mapping: canonical JSON and record hashes', () => {
  it('when the same data comes with its keys in another order, then its canonical JSON and hash are the same, so an unchanged record is not rewritten', async () => {
    const a = await mapItem(
      { id: 'k1', name: 'Booth', tags: ['x', 'y'], price: 12.5, open: true },
      { key: 'id', mapping: { name: 'name', tags: 'tags', price: 'price', open: 'open' } },
    );
    const b = await mapItem(
      { open: true, price: 12.5, tags: ['x', 'y'], name: 'Booth', id: 'k1' },
      { key: 'id', mapping: { open: 'open', price: 'price', tags: 'tags', name: 'name' } },
    );
    assert.equal(a.json, b.json);
    assert.equal(a.hash, b.hash);
    // The stored hash is SHA-256 of the canonical text: rows written by earlier versions compare equal.
    assert.equal(a.hash, createHash('sha256').update(a.json).digest('hex'));
  });

  it('when a record is mapped, then the text the upsert sends is its canonical JSON, whatever the fields are named, so its hash matches rows earlier versions wrote', async () => {
    const item = { id: 7, b: 'two', a: 1.5, z: null, é: true, Z: 'upper', n: { y: 1, x: [2] } };
    const mappings: Record<string, string>[] = [
      // Scalars only, fields listed out of order and with non-ASCII and upper-case names.
      { é: 'é', b: 'b', a: 'a', Z: 'Z', z: 'z' },
      // Field names that are array indexes: objects list those first, in numeric order.
      { '10': 'a', '2': 'b', x: 'Z' },
      // A nested value.
      { nested: 'n', a: 'a' },
      // A field the item does not have, and a JSONata expression.
      { missing: 'nope', sum: 'a + 1', b: 'b' },
    ];
    for (const mapping of mappings) {
      const record = await mapItem(item, { key: 'id', mapping });
      assert.equal(record.json, canonicalJson(record.data), JSON.stringify(mapping));
      assert.equal(record.hash, createHash('sha256').update(record.json).digest('hex'));
    }
    const indexed = await mapItem(item, { key: 'id', mapping: mappings[1]! });
    assert.equal(indexed.json, '{"10":1.5,"2":"two","x":"upper"}');
  });

  it('when data nests objects and arrays, then keys sort by code unit at every level, undefined fields drop out and array order stays', () => {
    const text = canonicalJson({
      b: 1,
      a: { d: [2, { y: 'é', x: undefined, Y: null }, 1], c: 'q"uote' },
      '10': false,
      '2': 0,
    });
    assert.equal(
      text,
      '{"10":false,"2":0,"a":{"c":"q\\"uote","d":[2,{"Y":null,"y":"é"},1]},"b":1}',
    );
    assert.deepEqual(JSON.parse(text), {
      '10': false,
      '2': 0,
      a: { c: 'q"uote', d: [2, { Y: null, y: 'é' }, 1] },
      b: 1,
    });
  });

  it('when JSONata fields come between plain ones, then the record holds every field, each in its place, as a mapping of plain fields only would', async () => {
    const item = { id: 'k1', name: 'Booth', price: 12.5, stock: { left: 3 } };
    const record = await mapItem(item, {
      key: 'id',
      mapping: { a: 'name', b: '$uppercase(name)', c: 'price', d: 'stock.left', e: 'missing' },
    });
    assert.deepEqual(record.data, { a: 'Booth', b: 'BOOTH', c: 12.5, d: 3 });
    assert.equal(record.json, canonicalJson(record.data));
    // A key JSONata computes: the fields after it are still mapped.
    const computed = await mapItem(item, { key: '$string(price)', mapping: { n: 'name' } });
    assert.equal(computed.key, '12.5');
    assert.deepEqual(computed.data, { n: 'Booth' });
  });

  it('when a string value or a field name holds a NUL character, then the record is refused with the field it is in, for good', async () => {
    const refused = async (item: unknown, mapping: Record<string, string>, where: RegExp) => {
      await assert.rejects(
        async () => mapItem(item, { key: 'id', mapping }),
        (err: Error & { code?: string; retryable?: boolean }) => {
          assert.equal(err.code, 'unstorable_data');
          assert.equal(err.retryable, false);
          assert.match(err.message, where);
          return true;
        },
      );
    };
    await refused(
      { id: 'k1', name: 'a\u0000b', ok: 'x' },
      { ok: 'ok', name: 'name' },
      /^mapping\.name: /,
    );
    await refused({ id: 'k1', name: 'ab' }, { 'na\u0000me': 'name' }, /^mapping: /);
    await refused({ id: 'k\u0000', name: 'ab' }, { name: 'name' }, /^key: /);
  });

  it('when a number is beyond the range of a double (1e400 parses to Infinity), as a field or inside one, then the record is refused with the field rather than stored with null in its place', async () => {
    const item = JSON.parse('{"id":"k1","big":1e400,"nested":{"ok":1,"small":-1e400}}') as unknown;
    const refusal = async (mapping: Record<string, string>) => {
      try {
        await mapItem(item, { key: 'id', mapping });
      } catch (err) {
        const { code, retryable, message } = err as NonRetryableError;
        return [code, retryable, message];
      }
      return 'stored';
    };
    const reason = 'holds a number beyond the range of a double (such as 1e400), stored as null';
    assert.deepEqual(await refusal({ id: 'id', big: 'big' }), [
      'unstorable_data',
      false,
      `mapping.big: ${reason}`,
    ]);
    assert.deepEqual(await refusal({ id: 'id', n: 'nested' }), [
      'unstorable_data',
      false,
      `mapping.n.small: ${reason}`,
    ]);
    assert.deepEqual(await refusal({ id: 'id', n: 'nested.ok' }), 'stored');
  });

  it("when a page holds a key twice, then the later record wins in the first one's place, and a page without duplicates comes back as it is", () => {
    const rec = (key: string, value: number, parentKey?: string) => ({
      key,
      data: { value },
      json: JSON.stringify({ value }),
      hash: String(value),
      ...(parentKey === undefined ? {} : { parentKey }),
    });
    const unique = [rec('a', 1), rec('b', 2)];
    assert.equal(collapseDuplicates(unique), unique);
    const collapsed = collapseDuplicates([rec('a', 1), rec('b', 2), rec('a', 3)]);
    assert.deepEqual(
      collapsed.map((r) => [r.key, r.data.value]),
      [
        ['a', 3],
        ['b', 2],
      ],
    );
    // No parent and an empty parent are the same row; another parent is another row.
    const children = collapseDuplicates([rec('a', 1), rec('a', 2, ''), rec('a', 3, 'p')]);
    assert.deepEqual(
      children.map((r) => [r.parentKey ?? '', r.key, r.data.value]),
      [
        ['', 'a', 2],
        ['p', 'a', 3],
      ],
    );
  });

  it('when a page is read through its itemsPath, then the items are the ones JSONata finds, whether the path is one field or more, and whatever the field holds', async () => {
    const bodies: unknown[] = [
      { data: [{ id: 1 }, { id: 2 }] },
      { data: [[1, 2], [3]] },
      { data: [] },
      { data: { id: 1 } },
      { data: 5 },
      { data: null },
      {},
      [{ data: [{ id: 1 }] }, { data: [{ id: 2 }] }],
      { wrapper: { data: [{ id: 3 }] } },
    ];
    for (const itemsPath of ['data', 'wrapper.data']) {
      const resource = { itemsPath } as ResourceDefinition;
      for (const body of bodies) {
        const viaJsonata = await evaluate(itemsPath, body, 'itemsPath');
        const expected =
          viaJsonata === undefined || viaJsonata === null
            ? []
            : Array.isArray(viaJsonata)
              ? [...(viaJsonata as unknown[])]
              : [viaJsonata];
        assert.deepEqual([...(await extractItems(body, resource))], expected, JSON.stringify(body));
      }
    }
  });
});
