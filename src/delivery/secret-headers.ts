import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Reads headers from a mounted Secret: `<dir>/<secretName>/<header-name>` holds the value.
 * Kubernetes mounts Secrets this way; `herald dev` users write the same files by hand.
 * Dotfiles (Kubernetes' `..data` symlinks) are skipped.
 */
export async function readSecretHeaders(secretsDir: string, secretName: string): Promise<Record<string, string>> {
  const dir = join(secretsDir, secretName);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new Error(`cannot read header secret "${secretName}" at ${dir}: ${(err as Error).message}`);
  }
  const out: Record<string, string> = {};
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    out[name] = (await readFile(join(dir, name), 'utf8')).trim();
  }
  return out;
}
