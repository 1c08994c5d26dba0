import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { platformWithSecrets, sealedPlatform, type PlatformWithSecrets } from '@psc/contracts';
import { SealedCredentialError, createWorkerSeal } from '../src/worker-seal.ts';

const TOKEN = 'tok-3c1f-plain-credential';

const platformWith = (auth: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
  platformWithSecrets.parse({
    id: '7d7f5a4e-4a7e-4c59-9d1b-6c2f0e8f1a01',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    name: 'sealed',
    baseUrl: 'https://api.example.com/v1',
    auth,
    resources: [{ name: 'r', request: { path: '/r' }, itemsPath: 'data', key: 'id', mapping: {} }],
    ...overrides,
  });

const AUTHS = [
  { type: 'bearer', token: TOKEN },
  { type: 'header', name: 'X-Key', token: TOKEN },
  { type: 'query', name: 'api_key', token: TOKEN },
];

const failure = (fn: () => unknown): SealedCredentialError => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SealedCredentialError, String(err));
    assert.equal(err.retryable, false);
    assert.ok(!err.message.includes(TOKEN));
    return err;
  }
  return assert.fail('expected a SealedCredentialError');
};

describe('worker seal: credentials sealed from the registry to the workers', () => {
  const key = randomBytes(32);
  const seal = createWorkerSeal(key);

  it('when a credential is sealed, then the contract accepts it, its text holds no plaintext, and the same key opens it', () => {
    for (const auth of AUTHS) {
      const platform = platformWith(auth);
      const sealed = seal.seal(platform);
      const text = JSON.stringify(sealedPlatform.parse(sealed));
      assert.ok(!text.includes(TOKEN), auth.type);
      assert.ok(!text.includes(Buffer.from(TOKEN).toString('base64')), auth.type);
      assert.match((sealed.auth as { token: string }).token, /^v1\.[\w-]{8}\./);
      assert.deepEqual(createWorkerSeal(Buffer.from(key)).open(sealed), platform);
    }
  });

  it('when a platform has no credential, then sealing and opening keep it as it is', () => {
    const platform = platformWith({ type: 'none' });
    assert.deepEqual(seal.open(seal.seal(platform)), platform);
  });

  it('when one credential is sealed twice, then the two texts differ (a random IV each)', () => {
    const platform = platformWith(AUTHS[0]!);
    assert.notEqual(
      JSON.stringify(seal.seal(platform).auth),
      JSON.stringify(seal.seal(platform).auth),
    );
  });

  it('when the plaintext could not pass the contract as sealed, then the reply schema refuses it', () => {
    const plain = platformWith(AUTHS[0]!) as unknown;
    assert.equal(sealedPlatform.safeParse(plain).success, false);
  });

  it('when a worker holds another key, then opening fails with worker_key_mismatch naming both key ids and the variable', () => {
    const other = createWorkerSeal(randomBytes(32));
    const err = failure(() => other.open(seal.seal(platformWith(AUTHS[0]!))));
    assert.equal(err.code, 'worker_key_mismatch');
    assert.ok(err.message.includes(seal.keyId) && err.message.includes(other.keyId));
    assert.match(err.message, /PSC_WORKER_SECRET_KEY/);
  });

  it('when the worker key changes, workers given the old one as previous open what the registry sealed under either, so no job fails while the registry is rolled after them', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const oldRegistry = createWorkerSeal(oldKey);
    const newRegistry = createWorkerSeal(newKey);
    const rotatingWorker = createWorkerSeal(newKey, [oldKey]);
    assert.equal(rotatingWorker.keyId, newRegistry.keyId, 'it seals under the new key only');
    for (const registry of [oldRegistry, newRegistry]) {
      const opened = rotatingWorker.open(registry.seal(platformWith(AUTHS[1]!)));
      assert.equal((opened.auth as { token: string }).token, TOKEN);
    }
    // The old key dropped: only what the new key sealed opens, and the message names the keys.
    const err = failure(() => newRegistry.open(oldRegistry.seal(platformWith(AUTHS[1]!))));
    assert.equal(err.code, 'worker_key_mismatch');
    const third = createWorkerSeal(randomBytes(32));
    const both = failure(() => rotatingWorker.open(third.seal(platformWith(AUTHS[1]!))));
    assert.ok(both.message.includes(`holds ${newRegistry.keyId}, ${oldRegistry.keyId}`));
  });

  it('when a sealed credential is moved to another platform, origin, header or auth type, then it does not open', () => {
    const sealed = seal.seal(platformWith(AUTHS[1]!));
    const moved: PlatformWithSecrets['auth'][] = [];
    const cases = [
      { ...sealed, id: '0b6f1c2e-2f9a-4d8e-8a63-1f1f3c9d2b77' },
      { ...sealed, baseUrl: 'https://attacker.example.net/v1' },
      { ...sealed, baseUrl: 'http://api.example.com/v1' },
      { ...sealed, auth: { ...sealed.auth, name: 'X-Other' } },
      { ...sealed, auth: { ...sealed.auth, type: 'query' } },
    ] as (typeof sealed)[];
    for (const changed of cases) {
      const err = failure(() => moved.push(seal.open(changed).auth));
      assert.equal(err.code, 'sealed_credential_invalid');
    }
    assert.deepEqual(moved, []);
    // Another path on the same origin is the same destination: it still opens.
    assert.equal(
      (seal.open({ ...sealed, baseUrl: 'https://api.example.com/v2' }).auth as { token: string })
        .token,
      TOKEN,
    );
  });

  it('when a sealed value carries a truncated tag, then it does not open', () => {
    const sealed = seal.seal(platformWith(AUTHS[0]!));
    const parts = (sealed.auth as { token: string }).token.split('.');
    parts[4] = Buffer.from(parts[4]!, 'base64url').subarray(0, 4).toString('base64url');
    const truncated = { ...sealed, auth: { type: 'bearer', token: parts.join('.') } };
    const err = failure(() => seal.open(truncated as typeof sealed));
    assert.equal(err.code, 'sealed_credential_invalid');
  });

  it('when a sealed value is altered, then it does not open', () => {
    const sealed = seal.seal(platformWith(AUTHS[0]!));
    const token = (sealed.auth as { token: string }).token;
    const parts = token.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[3] = body.toString('base64url');
    const altered = { ...sealed, auth: { type: 'bearer', token: parts.join('.') } };
    const err = failure(() => seal.open(altered as typeof sealed));
    assert.equal(err.code, 'sealed_credential_invalid');
  });
});

describe('worker seal: the longest credential the contract takes', () => {
  it('when a 4000-character token of 3-byte characters is sealed, then the reply contract still accepts it and it opens', () => {
    const seal = createWorkerSeal(randomBytes(32));
    const platform = platformWith({ type: 'bearer', token: '鍵'.repeat(4_000) });
    const sealed = sealedPlatform.parse(seal.seal(platform));
    assert.deepEqual(seal.open(sealed), platform);
  });
});
