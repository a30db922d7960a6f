import { describe, expect, it } from 'vitest';
import { ReplicationUnconfirmedError, StoreOutcomeUnknownError, StoreUnavailableError } from '../../src/ingest/errors.js';
import { PartialWrite, partialAnswer } from '../../src/ingest/partial-write.js';
import type { SlotOutcomes } from '../../src/ingest/slot-writes.js';

const down = () => ({ ok: false as const, error: new StoreUnavailableError(new Error('shard down')) });
const unknown = () => ({ ok: false as const, error: new StoreOutcomeUnknownError(new Error('cut off')) });
const ok = { ok: true as const };
type Outcome = SlotOutcomes extends Map<string, infer O> ? O : never;
const outcomes = (entries: Record<string, Outcome>): SlotOutcomes => new Map(Object.entries(entries));

describe('the answer to a write partly stored on a Redis Cluster', () => {
  it('names where the event is stored, where it is not, and where it may be', () => {
    const answer = partialAnswer(outcomes({ orders: ok, billing: down(), audit: unknown() }), ['orders', 'billing', 'audit']);
    expect({ status: answer.status, code: answer.code, headers: answer.headers }).toEqual({ status: 503, code: 'partially_stored', headers: { 'retry-after': '1' } });
    expect(answer.message).toBe(
      'part of the event store is unavailable: the event was stored for "orders" (it will be delivered there), not stored for "billing", maybe stored for "audit"; retry with the same Idempotency-Key to store it for the others without a second copy where it is stored',
    );
  });

  it('counts a destination the write left out (stored by an earlier attempt) as stored', () => {
    const answer = partialAnswer(outcomes({ billing: down() }), ['orders', 'billing', 'orders']);
    expect(answer.code).toBe('partially_stored');
    expect(answer.message).toContain('stored for "orders" (it will be delivered there), not stored for "billing";');
  });

  it('is the failure itself when every destination failed alike, and store_unavailable when nothing is stored', () => {
    expect(partialAnswer(outcomes({ a: down(), b: down() }), ['a', 'b'])).toBeInstanceOf(StoreUnavailableError);
    const unconfirmed = new ReplicationUnconfirmedError(1, 0, 500);
    expect(partialAnswer(outcomes({ a: { ok: false, error: unconfirmed } }), ['a'])).toBe(unconfirmed);
    expect(partialAnswer(outcomes({ a: down(), b: unknown() }), ['a', 'b']).code).toBe('partially_stored');
  });

  it('lets a request whose own destinations were all stored through a write that failed elsewhere', () => {
    const partial = new PartialWrite(outcomes({ orders: ok, billing: down() }));
    expect(partial.covers(['orders'])).toBe(true);
    expect(partial.covers(['orders', 'billing'])).toBe(false);
  });
});
