import type { DestinationRegistry } from '../redis/destination-registry.js';
import type { Logger } from '../log/logger.js';

/**
 * Removes registry entries without a Destination (its finalizer was removed by hand, say), which
 * would keep ingest queueing for nobody. Reads the registry before the cache: anything published was
 * in the cache before it was published. Stops at `signal`; failures are logged, not thrown.
 */
export async function removeOrphanedEntries(
  registry: Pick<DestinationRegistry, 'list' | 'remove'>,
  cachedNames: () => string[],
  signal: AbortSignal,
  logger: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  try {
    const entries = await registry.list();
    const names = new Set(cachedNames());
    for (const e of entries) {
      if (names.has(e.name) || signal.aborted) continue;
      await registry.remove(e.name);
      removed.push(e.name);
      logger.info({ destination: e.name }, 'Removed registry entry without a Destination');
    }
  } catch (err) {
    logger.warn({ err }, 'Could not check the registry for orphaned entries');
  }
  return removed;
}
