import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SigningKeyring, type KeyringEntry } from './signing-keyring.js';

/**
 * Loads a destination's signing keyring from a mounted Secret (`<dir>/<secretName>/`):
 * `secret` is the current `whsec_…` secret; during a rotation `previous` holds the old one and
 * `previous-expires-at` (ISO 8601) ends its grace period, after which only `secret` signs.
 */
export async function loadSigningKeyring(secretsDir: string, secretName: string): Promise<SigningKeyring> {
  const dir = join(secretsDir, secretName);
  const read = async (name: string) => {
    try {
      return (await readFile(join(dir, name), 'utf8')).trim();
    } catch {
      return undefined;
    }
  };
  const current = await read('secret');
  if (!current) throw new Error(`signing secret "${secretName}" has no key "secret" (looked in ${dir})`);
  const entries: KeyringEntry[] = [{ secret: current }];
  const previous = await read('previous');
  if (previous) {
    const expires = await read('previous-expires-at');
    entries.push({ secret: previous, ...(expires ? { notAfter: new Date(expires) } : {}) });
  }
  return new SigningKeyring(entries);
}
