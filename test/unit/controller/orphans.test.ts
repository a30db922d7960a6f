import { describe, expect, it } from 'vitest';
import { DestinationSpec } from '../../../src/api/destination.js';
import { removeOrphanedEntries } from '../../../src/controller/orphans.js';
import { createLogger } from '../../../src/log/logger.js';

const spec = DestinationSpec.parse({ url: 'https://example.com/hook' });
const registryOf = (names: string[], fail = false) => {
  const entries = new Map(names.map((name) => [name, { name, spec }]));
  return {
    entries,
    list: async () => {
      if (fail) throw new Error('redis down');
      return [...entries.values()];
    },
    remove: async (name: string) => void entries.delete(name),
  };
};

describe('registry entries without a Destination', () => {
  it('are removed; entries of cached Destinations stay', async () => {
    const registry = registryOf(['orders', 'forced', 'billing']);
    const removed = await removeOrphanedEntries(registry, () => ['orders', 'billing'], new AbortController().signal, createLogger({ level: 'silent' }));
    expect(removed).toEqual(['forced']);
    expect([...registry.entries.keys()]).toEqual(['orders', 'billing']);
  });

  it('are left alone once leadership is lost', async () => {
    const registry = registryOf(['forced']);
    const lost = new AbortController();
    lost.abort();
    expect(await removeOrphanedEntries(registry, () => [], lost.signal, createLogger({ level: 'silent' }))).toEqual([]);
    expect(registry.entries.has('forced')).toBe(true);
  });

  it('cannot break the term when Redis fails: nothing removed, nothing thrown', async () => {
    expect(await removeOrphanedEntries(registryOf(['x'], true), () => [], new AbortController().signal, createLogger({ level: 'silent' }))).toEqual([]);
  });
});
