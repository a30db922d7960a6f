import { describe, expect, it } from 'vitest';
import { SigningKeyring } from '../../../src/signing/signing-keyring.js';
import { InvalidSigningSecretError, generateSecret } from '../../../src/signing/standard-webhooks.js';

const t = (iso: string) => new Date(iso);

describe('SigningKeyring', () => {
  const oldSecret = generateSecret();
  const newSecret = generateSecret();
  const keyring = new SigningKeyring([
    { secret: oldSecret, notAfter: t('2025-06-01T12:00:00Z') },
    { secret: newSecret },
  ]);

  it('signs with both the old and the new secret during the grace period', () => {
    expect(keyring.activeAt(t('2025-06-01T11:00:00Z'))).toEqual([oldSecret, newSecret]);
  });

  it('still includes a secret at exactly its notAfter instant', () => {
    expect(keyring.activeAt(t('2025-06-01T12:00:00Z'))).toEqual([oldSecret, newSecret]);
  });

  it('drops the old secret once its grace period has ended', () => {
    expect(keyring.activeAt(t('2025-06-01T12:00:00.001Z'))).toEqual([newSecret]);
  });

  it('returns no secret when every secret has expired', () => {
    const expiring = new SigningKeyring([{ secret: oldSecret, notAfter: t('2025-01-01T00:00:00Z') }]);
    expect(expiring.activeAt(t('2025-01-02T00:00:00Z'))).toEqual([]);
  });

  it('is not affected by later changes to the entries it was built from', () => {
    const entries = [{ secret: oldSecret, notAfter: t('2030-01-01T00:00:00Z') }];
    const ring = new SigningKeyring(entries);
    entries[0]!.notAfter = t('2000-01-01T00:00:00Z');
    expect(ring.activeAt(t('2025-01-01T00:00:00Z'))).toEqual([oldSecret]);
  });

  it('rejects malformed secrets and dates by position, without echoing the secret', () => {
    let error: unknown;
    try {
      new SigningKeyring([
        { secret: newSecret },
        { secret: 'whsec_c2hvcnQ=' },
        { secret: newSecret, notAfter: new Date('not a date') },
      ]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSigningSecretError);
    const message = (error as Error).message;
    expect(message).toContain('secret 1:');
    expect(message).toContain('secret 2: notAfter is not a valid date');
    expect(message).not.toContain('secret 0');
    expect(message).not.toContain('c2hvcnQ');
  });
});
