import { IngestError, StoreUnavailableError } from './errors.js';
import type { SlotOutcomes } from './slot-writes.js';

/**
 * A write on a Redis Cluster some of whose destinations' scripts failed (ADR 0015). Every caller
 * that shared the write gets it; each is answered by {@link answerFor} for its own destinations, so
 * a request whose destinations all succeeded is still a 202.
 */
export class PartialWrite extends Error {
  constructor(readonly outcomes: SlotOutcomes) {
    super('some destinations of the write were not stored');
  }

  /** Whether every one of `destinations` was stored. */
  covers(destinations: Iterable<string>): boolean {
    for (const d of destinations) if (this.outcomes.get(d)?.ok === false) return false;
    return true;
  }
}

/**
 * The answer to a request whose events go to `destinations`, given what became of each: pure, so
 * the wording is tested without a cluster. Nothing stored anywhere is the plain `store_unavailable`;
 * one kind of failure at every destination is that failure's own answer; anything mixed is
 * `503 partially_stored`, naming where the event is stored (and will be delivered), where it is not,
 * and where it may be.
 */
export function partialAnswer(outcomes: SlotOutcomes, destinations: Iterable<string>): IngestError {
  const stored: string[] = [];
  const notStored: string[] = [];
  const uncertain: string[] = [];
  const errors: IngestError[] = [];
  for (const d of new Set(destinations)) {
    const o = outcomes.get(d);
    if (!o || o.ok) stored.push(d);
    else {
      errors.push(o.error);
      (o.error instanceof StoreUnavailableError ? notStored : uncertain).push(d);
    }
  }
  if (stored.length === 0 && errors.length > 0 && errors.every((e) => e.code === errors[0]!.code)) return errors[0]!;
  if (stored.length === 0 && uncertain.length === 0) return new StoreUnavailableError(new Error('no destination was stored'));
  const parts = [
    stored.length ? `stored for ${list(stored)} (it will be delivered there)` : '',
    notStored.length ? `not stored for ${list(notStored)}` : '',
    uncertain.length ? `maybe stored for ${list(uncertain)}` : '',
  ].filter((p) => p !== '');
  return new IngestError(
    503,
    'partially_stored',
    `part of the event store is unavailable: the event was ${parts.join(', ')}; retry with the same Idempotency-Key to store it for the others without a second copy where it is stored`,
    undefined,
    { 'retry-after': '1' },
  );
}

function list(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}
