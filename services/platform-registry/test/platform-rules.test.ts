import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { platformWithSecrets, type PlatformInput } from '@psc/contracts';
import { AppError } from '@psc/core';
import { configureExpressions } from '@psc/platform-http';
import { masked } from '../src/domain/platform.service.ts';
import {
  assertPlatformRules,
  dryRunExpressions,
  isCredentialHeader,
} from '../src/domain/platform-rules.ts';

const resource = (extra: Record<string, unknown> = {}) => ({
  name: 'items',
  request: { path: '/items' },
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id' },
  ...extra,
});
const platform = (resources: Record<string, unknown>[]) =>
  ({ name: 'p', baseUrl: 'https://p.test', resources }) as unknown as PlatformInput;

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe('platform rules', () => {
  before(() => configureExpressions({ timeoutMs: 200 }));
  after(() => configureExpressions({}));

  it('when an expression only fails on real data, then without a sample the save passes, and with a sample that shows it the save is refused naming the path', async () => {
    const risky = resource({ mapping: { id: 'id', n: '$number(label)' } });
    await dryRunExpressions(platform([risky]));
    const err = await rejection(
      dryRunExpressions(platform([{ ...risky, sample: { data: [{ id: 1, label: 'x' }] } }])),
    );
    assert.equal(err.code, 'validation_failed');
    assert.deepEqual(
      (err.details as { path: string }[]).map((d) => d.path),
      ['resources[0].mapping.n'],
    );
  });

  it('when an expression runs away whatever the data, then the dry run refuses it with mapping_limit once, naming the path', async () => {
    const err = await rejection(
      dryRunExpressions(
        platform([
          resource({
            children: [
              {
                name: 'kids',
                itemsPath: 'kids',
                key: 'id',
                mapping: { spin: '($f := function(){ $f() }; $f())' },
              },
            ],
          }),
        ]),
      ),
    );
    assert.equal(err.code, 'mapping_limit');
    assert.equal(err.status, 422);
    assert.match(err.message, /^resources\[0\]\.children\[0\]\.mapping\.spin: over its budget/);
  });

  it('when a static header is named like a credential, then the rules refuse it, and legacy values are masked on read', () => {
    for (const name of [
      'Authorization',
      'X-Api-Key',
      'apikey',
      'X-Auth-Token',
      'Cookie',
      'X-Client-Secret',
    ]) {
      assert.ok(isCredentialHeader(name), name);
    }
    for (const name of ['Accept', 'X-Tenant', 'X-Request-Id', 'User-Agent']) {
      assert.ok(!isCredentialHeader(name), name);
    }
    assert.throws(
      () =>
        assertPlatformRules(
          platform([resource({ request: { path: '/items', headers: { 'X-Api-Key': 'k' } } })]),
        ),
      /resources\[0\]\.request\.headers\.X-Api-Key: looks like a credential: put it in auth/,
    );
    const now = new Date().toISOString();
    const stored = platformWithSecrets.parse({
      ...platform([
        resource({ request: { path: '/items', headers: { 'X-Api-Key': 'k-1', 'X-Tenant': 't' } } }),
      ]),
      id: '0b7c6a3e-55a8-4b8e-9a59-0d1c7f1e2a10',
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
    assert.deepEqual(masked(stored).resources[0]!.request.headers, {
      'X-Api-Key': '***',
      'X-Tenant': 't',
    });
  });
});
