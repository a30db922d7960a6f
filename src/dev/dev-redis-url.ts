import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where `herald dev` notes the URL of the private Redis it started, relative to the directory it runs
 * in, so `herald dlq …` in another terminal of the same checkout finds it without REDIS_URL.
 */
export const DEV_REDIS_URL_FILE = join('.dev', 'redis-url');

/** Records `url` for other commands run in `cwd`. */
export async function writeDevRedisUrl(cwd: string, url: string): Promise<void> {
  await mkdir(join(cwd, '.dev'), { recursive: true });
  await writeFile(join(cwd, DEV_REDIS_URL_FILE), `${url}\n`);
}

/** Removes the note, unless another `herald dev` has replaced it with its own URL meanwhile. */
export async function removeDevRedisUrl(cwd: string, url: string): Promise<void> {
  if ((await readDevRedisUrl(cwd)) === url) await rm(join(cwd, DEV_REDIS_URL_FILE), { force: true });
}

/** The URL a running `herald dev` left in `cwd`, if any. */
export async function readDevRedisUrl(cwd: string): Promise<string | undefined> {
  try {
    const url = (await readFile(join(cwd, DEV_REDIS_URL_FILE), 'utf8')).trim();
    return /^rediss?:\/\//.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
