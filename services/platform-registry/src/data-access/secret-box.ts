import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export interface SecretBox {
  /** AES-256-GCM under the current key; `context` (the platform id) is bound as associated data. */
  seal(plain: string, context: string): string;
  /** Opens what the current key or a previous one sealed; throws if none of them opens it. */
  open(sealed: string, context: string): string;
  /**
   * `sealed` sealed anew under the current key if a previous key sealed it, or undefined if the
   * current one did. Throws if none of the keys opens it.
   */
  reseal(sealed: string, context: string): string | undefined;
  /** Whether previous keys were given, so that credentials may still be sealed under one. */
  readonly rotating: boolean;
}

function openWith(key: Buffer, sealed: string, context: string): string {
  const [version, data] = sealed.split(':');
  if (version !== VERSION || !data) throw new Error('unknown secret format');
  const raw = Buffer.from(data, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/**
 * Encrypts credentials at rest with the 32-byte `PSC_SECRET_KEY`. The keys of
 * `PSC_SECRET_KEY_PREVIOUS` only open what they sealed before a rotation, until the registry has
 * sealed it again under the current key: GCM's tag tells a wrong key, so each is tried in turn.
 */
export function createSecretBox(key: Buffer, previous: readonly Buffer[] = []): SecretBox {
  for (const k of [key, ...previous]) {
    if (k.length !== 32) throw new Error('secret key must be 32 bytes');
  }
  const seal = (plain: string, context: string): string => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  };
  /** The plaintext, and whether a previous key (not the current one) opened it. */
  const opened = (sealed: string, context: string): { plain: string; stale: boolean } => {
    let failure: unknown;
    for (const [i, k] of [key, ...previous].entries()) {
      try {
        return { plain: openWith(k, sealed, context), stale: i > 0 };
      } catch (err) {
        failure ??= err;
      }
    }
    throw failure;
  };
  return {
    seal,
    open: (sealed, context) => opened(sealed, context).plain,
    reseal(sealed, context) {
      const { plain, stale } = opened(sealed, context);
      return stale ? seal(plain, context) : undefined;
    },
    rotating: previous.length > 0,
  };
}
