import { describe, expect, it } from 'vitest';
import { parseTable } from '../../e2e/lib/table.mjs';

describe('parseTable (kubectl get output)', () => {
  it('reads cells by column offset, empty cells and multi-word headers included', () => {
    const text = [
      'NAME          URL                               READY   BACKLOG   DELIVERED   FAILED   AGE',
      'e2e-all       http://e2e-receiver/ok/all        True    0         42          0        3m',
      'e2e-failing   http://e2e-receiver/fail/partner  True              0           7        3m',
      '',
    ].join('\n');
    expect(parseTable(text)).toEqual([
      { name: 'e2e-all', url: 'http://e2e-receiver/ok/all', ready: 'True', backlog: '0', delivered: '42', failed: '0', age: '3m' },
      { name: 'e2e-failing', url: 'http://e2e-receiver/fail/partner', ready: 'True', backlog: '', delivered: '0', failed: '7', age: '3m' },
    ]);
    const pods = parseTable('NAME   READY   NOMINATED NODE\npod-a  1/1     <none>\n');
    expect(pods).toEqual([{ name: 'pod-a', ready: '1/1', 'nominated node': '<none>' }]);
  });

  it('gives no rows for empty output', () => {
    expect(parseTable('')).toEqual([]);
    expect(parseTable('NAME   AGE\n')).toEqual([]);
  });
});
