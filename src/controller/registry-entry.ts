import { z } from 'zod';
import type { DestinationSpec } from '../api/destination.js';
import type { DestinationRegistry } from '../redis/destination-registry.js';
import { stableStringify } from '../api/stable-stringify.js';
import { RedisUnavailableError } from './errors.js';

/**
 * Registry filter of a draining destination: ingest routes it nothing (event types cannot contain
 * spaces, see EVENT_TYPE_PATTERN) while its workers still read the rest of the spec and deliver the
 * backlog. A stand-in until the registry has a first-class "draining" state (ADR 0003).
 */
export const DRAINING_FILTER = { types: ['herald.dev/draining: matches no event type'] };

type Registry = Pick<DestinationRegistry, 'get' | 'put' | 'remove'>;

/**
 * Puts the spec in the registry unless it is there already: every put announces a change that makes
 * each ingest replica re-read the whole set. An entry that no longer parses is overwritten.
 * `guard` runs before the write (leadership check). Resolves whether it wrote.
 */
export async function publishSpec(registry: Registry, name: string, spec: DestinationSpec, guard: () => void): Promise<boolean> {
  const entry = await registry.get(name).catch((err: unknown) => {
    if (err instanceof z.ZodError) return undefined;
    throw err;
  });
  if (entry && stableStringify(entry.spec) === stableStringify(spec)) return false;
  guard();
  await registry.put({ name, spec });
  return true;
}

/**
 * Whether ingest routes events to `name`: absent, routing, or draining (published with DRAINING_FILTER).
 * @throws RedisUnavailableError when Redis cannot be read.
 */
export async function registryState(registry: Registry, name: string): Promise<'absent' | 'routing' | 'draining'> {
  try {
    const entry = await registry.get(name);
    if (!entry) return 'absent';
    return stableStringify(entry.spec.filter) === stableStringify(DRAINING_FILTER) ? 'draining' : 'routing';
  } catch (err) {
    // Present but unparseable (written by a newer Herald?): it still routes.
    if (err instanceof z.ZodError) return 'routing';
    throw new RedisUnavailableError(`cannot read the registry: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
