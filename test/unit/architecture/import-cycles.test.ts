import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, fileGraph, folderGraph } from './folder-imports.js';

const SRC = resolve(import.meta.dirname, '../../../src');

/** "a → b (a/x.ts, …)" for every edge inside `group`, so a failure names the imports to move. */
function describeCycle(graph: Map<string, Map<string, string[]>>, group: string[]): string {
  const edges = group.flatMap((a) => group.flatMap((b) => {
    const files = graph.get(a)?.get(b);
    return files ? [`${a || '.'} → ${b || '.'} (${[...new Set(files)].join(', ')})`] : [];
  }));
  return `${group.join(' ↔ ')}:\n  ${edges.join('\n  ')}`;
}

describe('imports between the parts of src/', () => {
  it('form no cycle between folders: each folder can be read knowing only those below it', () => {
    const graph = folderGraph(SRC);
    expect(cycles(graph).map((c) => describeCycle(graph, c))).toEqual([]);
  });

  it('form no cycle between files', () => {
    const graph = fileGraph(SRC);
    expect(cycles(graph).map((c) => describeCycle(graph, c))).toEqual([]);
  });

  it('are seen by the checker: a ring it is shown is reported with the files that make it', () => {
    const ring = new Map([
      ['queue', new Map([['delivery', ['queue/delivery-queue.ts']]])],
      ['delivery', new Map([['queue', ['delivery/delivery-worker.ts']], ['redis', ['delivery/x.ts']]])],
      ['redis', new Map<string, string[]>()],
    ]);
    const found = cycles(ring);
    expect(found).toEqual([['delivery', 'queue']]);
    expect(describeCycle(ring, found[0]!)).toBe('delivery ↔ queue:\n  delivery → queue (delivery/delivery-worker.ts)\n  queue → delivery (queue/delivery-queue.ts)');
  });

  it('include the real graph: src/ has folders that import each other', () => {
    const graph = folderGraph(SRC);
    expect(graph.get('worker')?.has('queue')).toBe(true);
    expect(graph.get('worker')?.has('delivery')).toBe(true);
  });
});
