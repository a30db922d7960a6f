import { describe, expect, it } from 'vitest';
import { destinationSource, watchTimeoutSeconds } from '../../../src/controller/kube-client.js';
import type { KubeRest } from '../../../src/controller/kube-rest.js';

describe('watchTimeoutSeconds', () => {
  it('spans 5 to 10 minutes as random spans [0, 1)', () => {
    expect([0, 0.5, 0.999999].map(watchTimeoutSeconds)).toEqual([300, 450, 599]);
  });
});

describe('a list-watch source', () => {
  it('asks each watch for a timeout drawn from the injected random', async () => {
    const queries: Array<Record<string, unknown>> = [];
    const rest = { watch: async (_path: string, query: Record<string, unknown>) => void queries.push(query) } as unknown as KubeRest;
    const draws = [0.1, 0.9];
    const source = destinationSource(rest, 'herald', () => draws.shift()!);
    const callbacks = { onEvent: () => undefined, onClose: () => undefined };
    await source.watch('1', callbacks as never);
    await source.watch('2', callbacks as never);
    expect(queries.map((q) => [q.resourceVersion, q.timeoutSeconds])).toEqual([['1', 330], ['2', 570]]);
  });
});
