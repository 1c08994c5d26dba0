import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type {
  PlatformAuth,
  PlatformWithSecrets,
  SealedAuth,
  SealedPlatform,
  SealedSecret,
} from '@psc/contracts';
import { NonRetryableError } from '@psc/core';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A sealed credential that this worker cannot open: sealed under another key
 * (`worker_key_mismatch`, a configuration error) or altered (`sealed_credential_invalid`).
 * Retrying cannot fix either: the job fails for good, saying what is wrong, without any secret.
 */
export class SealedCredentialError extends NonRetryableError {
  override name = 'SealedCredentialError';
  constructor(code: 'worker_key_mismatch' | 'sealed_credential_invalid', message: string) {
    super(code, message);
  }
}

/** Seals credentials for the workers (the registry) and opens them (sync-worker, collector). */
export interface WorkerSeal {
  /** A short id of the key, derived from it one way: safe to log and to compare. */
  readonly keyId: string;
  seal(platform: PlatformWithSecrets): SealedPlatform;
  /** @throws SealedCredentialError when the credential does not open under this key. */
  open(platform: SealedPlatform): PlatformWithSecrets;
}

const b64 = (bytes: Buffer) => bytes.toString('base64url');

/**
 * What the ciphertext is bound to: the platform, and where its credential goes (the origin and
 * how it is sent). A sealed token copied onto another platform, or into a reply that sends it to
 * another host or in another header or parameter, no longer opens.
 */
function boundTo(platform: { id: string; baseUrl: string; auth: SealedAuth | PlatformAuth }) {
  const name = 'name' in platform.auth ? platform.auth.name : '';
  return Buffer.from(
    JSON.stringify([
      'psc-worker-credential',
      VERSION,
      platform.id,
      new URL(platform.baseUrl).origin,
      platform.auth.type,
      name,
    ]),
  );
}

const keyIdOf = (key: Buffer): string => {
  if (key.length !== 32) throw new Error('worker secret key must be 32 bytes');
  return b64(createHmac('sha256', key).update('psc worker key id').digest().subarray(0, 6));
};

/**
 * AES-256-GCM under `PSC_WORKER_SECRET_KEY`, a random IV per seal, as
 * `v1.<key id>.<iv>.<ciphertext>.<tag>`. The key id lets a worker tell a key mismatch (a
 * configuration error) from a value that was altered, and pick the key: a worker also opens what
 * was sealed under a key of `previous` (`PSC_WORKER_SECRET_KEY_PREVIOUS`), so that the key can
 * be changed on the workers before the registry, without a job failing in between.
 */
export function createWorkerSeal(key: Buffer, previous: readonly Buffer[] = []): WorkerSeal {
  const keyId = keyIdOf(key);
  const opening = new Map([...previous, key].map((k) => [keyIdOf(k), k]));

  function sealToken(token: string, aad: Buffer): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return `${VERSION}.${keyId}.${b64(iv)}.${b64(body)}.${b64(cipher.getAuthTag())}` as SealedSecret;
  }

  function openToken(sealed: SealedSecret, aad: Buffer, platformId: string): string {
    const [version, sealedBy, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || !iv || !body || !tag) {
      throw new SealedCredentialError(
        'sealed_credential_invalid',
        `platform ${platformId}: its credential is sealed in a format this worker does not know (${String(version)})`,
      );
    }
    const openingKey = opening.get(String(sealedBy));
    if (!openingKey) {
      throw new SealedCredentialError(
        'worker_key_mismatch',
        `platform ${platformId}: its credential is sealed under worker key ${String(sealedBy)}, ` +
          `this worker holds ${[...opening.keys()].reverse().join(', ')}: give platform-registry, sync-worker and collector the same PSC_WORKER_SECRET_KEY`,
      );
    }
    try {
      // A full-length tag only: GCM would also check a truncated one, which is easier to forge.
      const authTag = Buffer.from(tag, 'base64url');
      if (authTag.length !== TAG_BYTES) throw new Error('short tag');
      const decipher = createDecipheriv('aes-256-gcm', openingKey, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(aad);
      decipher.setAuthTag(authTag);
      const plain = Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      throw new SealedCredentialError(
        'sealed_credential_invalid',
        `platform ${platformId}: its sealed credential does not open under worker key ${String(sealedBy)} ` +
          '(altered, or taken from another platform or destination)',
      );
    }
  }

  return {
    keyId,
    seal(platform) {
      const { auth } = platform;
      if (auth.type === 'none') return { ...platform, auth };
      return { ...platform, auth: { ...auth, token: sealToken(auth.token, boundTo(platform)) } };
    },
    open(platform) {
      const { auth } = platform;
      if (auth.type === 'none') return { ...platform, auth };
      const token = openToken(auth.token, boundTo(platform), platform.id);
      return { ...platform, auth: { ...auth, token } };
    },
  };
}
