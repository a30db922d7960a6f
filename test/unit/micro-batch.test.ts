import { describe, expect, it } from 'vitest';
import { MicroBatch } from '../../src/ingest/micro-batch.js';

/** A scheduler the test runs by hand, standing in for the end of an event-loop turn. */
function manualTurn() {
  const queued: Array<() => void> = [];
  return {
    schedule: (fn: () => void) => void queued.push(fn),
    endTurn: () => queued.splice(0).forEach((fn) => fn()),
    pending: () => queued.length,
  };
}

/** A write whose outcome the test decides, recording what each call carried. */
function controlledWrite() {
  const calls: Array<{ items: string[]; resolve: () => void; reject: (err: unknown) => void }> = [];
  const write = (items: string[]) => new Promise<void>((resolve, reject) => void calls.push({ items, resolve, reject }));
  return { write, calls };
}

const settled = async (p: Promise<void>) => {
  let state = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return state;
};

describe('MicroBatch', () => {
  it('writes everything submitted in one turn with one call, keeping each submission together and in order', async () => {
    const turn = manualTurn();
    const { write, calls } = controlledWrite();
    const batch = new MicroBatch(write, { maxItems: 100, schedule: turn.schedule });
    const a = batch.submit(['a']);
    const b = batch.submit(['b1', 'b2']);
    const c = batch.submit(['c']);
    expect(calls).toHaveLength(0);
    expect(turn.pending()).toBe(1);
    turn.endTurn();
    expect(calls.map((x) => x.items)).toEqual([['a', 'b1', 'b2', 'c']]);
    expect(await settled(a)).toBe('pending');
    calls[0]!.resolve();
    await Promise.all([a, b, c]);
  });

  it('settles a submission only with the write that carried it', async () => {
    const turn = manualTurn();
    const { write, calls } = controlledWrite();
    const batch = new MicroBatch(write, { maxItems: 100, schedule: turn.schedule });
    const first = batch.submit(['1']);
    turn.endTurn();
    const second = batch.submit(['2']);
    turn.endTurn();
    expect(calls.map((x) => x.items)).toEqual([['1'], ['2']]);
    calls[1]!.resolve();
    expect(await settled(second)).toBe('resolved');
    expect(await settled(first)).toBe('pending');
    calls[0]!.reject(new Error('redis down'));
    await expect(first).rejects.toThrow('redis down');
  });

  it('rejects every submission of a failed write with its error, and the next turn writes afresh', async () => {
    const turn = manualTurn();
    const { write, calls } = controlledWrite();
    const batch = new MicroBatch(write, { maxItems: 100, schedule: turn.schedule });
    const failed = [batch.submit(['x']), batch.submit(['y'])];
    turn.endTurn();
    calls[0]!.reject(new Error('OOM'));
    for (const p of failed) await expect(p).rejects.toThrow('OOM');
    const next = batch.submit(['z']);
    turn.endTurn();
    expect(calls[1]!.items).toEqual(['z']);
    calls[1]!.resolve();
    await next;
  });

  it('writes at once when a turn reaches maxItems, without waiting for the end of the turn', async () => {
    const turn = manualTurn();
    const { write, calls } = controlledWrite();
    const batch = new MicroBatch(write, { maxItems: 3, schedule: turn.schedule });
    void batch.submit(['a', 'b']);
    void batch.submit(['c']);
    expect(calls.map((x) => x.items)).toEqual([['a', 'b', 'c']]);
    void batch.submit(['d']);
    turn.endTurn();
    expect(calls.map((x) => x.items)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('turns a write that throws synchronously into rejected submissions', async () => {
    const turn = manualTurn();
    const batch = new MicroBatch<string>(() => {
      throw new Error('bad input');
    }, { maxItems: 10, schedule: turn.schedule });
    const p = batch.submit(['a']);
    turn.endTurn();
    await expect(p).rejects.toThrow('bad input');
  });
});
