import { describe, expect, it } from 'vitest';
import { formatTally, retryable, tallyLoad } from '../../e2e/lib/tally.mjs';

describe('tallyLoad (e2e steady-load counts)', () => {
  it('counts an event accepted after retries once, and its retried answers each', () => {
    const t = tallyLoad(
      [
        { key: 'k0', answers: [202], id: 'a' },
        { key: 'k1', answers: ['network', 503, 202], id: 'b' },
      ],
      ['a', 'b'],
    );
    expect(t).toMatchObject({ sent: 2, accepted: 2, delivered: 2, duplicated: 0, lost: 0, unexpected5xx: 0, strays: 0 });
    expect(t.answers).toEqual({ 202: 2, 503: 1, network: 1 });
  });

  it('reports an accepted event never delivered as lost, by id', () => {
    const t = tallyLoad([{ key: 'k0', answers: [202], id: 'a' }, { key: 'k1', answers: [202], id: 'b' }], ['a']);
    expect(t.lost).toBe(1);
    expect(t.lostIds).toEqual(['b']);
    expect(t.delivered).toBe(1);
  });

  it('counts an id delivered twice as one duplicated event, not as two deliveries', () => {
    const t = tallyLoad([{ key: 'k0', answers: [202], id: 'a' }], ['a', 'a', 'a']);
    expect(t).toMatchObject({ delivered: 1, duplicated: 1, lost: 0 });
    expect(t.duplicatedIds).toEqual(['a']);
  });

  it('counts 5xx other than 503 (a proxy 502 included) as unexpected', () => {
    const t = tallyLoad([{ key: 'k0', answers: [502, 500, 503, 202], id: 'a' }], ['a']);
    expect(t.unexpected5xx).toBe(2);
  });

  it('keeps deliveries no 202 announced apart as strays, and events never accepted as notAccepted', () => {
    const t = tallyLoad([{ key: 'k0', answers: [503, 503] }], ['x']);
    expect(t).toMatchObject({ accepted: 0, notAccepted: 1, strays: 1, lost: 0 });
    expect(t.strayIds).toEqual(['x']);
  });

  it('formats one summary line with every count', () => {
    const line = formatTally(tallyLoad([{ key: 'k0', answers: [503, 202], id: 'a' }], ['a', 'a']));
    expect(line).toBe('sent=1 accepted=1 delivered=1 duplicated=1 lost=0 unexpected5xx=0 strays=0 answers{202=1 503=1}');
  });

  it('retries no answer, 503 and proxy 502/504, nothing else', () => {
    expect([...['network', 502, 503, 504].map((a) => retryable(a as number | 'network'))]).toEqual([true, true, true, true]);
    expect([202, 400, 401, 413, 422, 500].map((a) => retryable(a))).toEqual([false, false, false, false, false, false]);
  });
});
