import { describe, expect, it } from 'vitest';
import { EventsQuery } from '../../src/api/event-log.js';
import { decodeCursor, encodeCursor, isAfter, newestFirst } from '../../src/event-log/cursor.js';
import { attemptField, attemptHistory, bucketExpiry, bucketOf, deliveryState, parseDeliveryRecord, storedAttempt, storedRecord } from '../../src/event-log/delivery-record.js';
import { eventFacts, visibleTo } from '../../src/event-log/event-facts.js';
import { logRetentionMs, responsePrefix } from '../../src/event-log/retention.js';
import { deliveryBodyJson } from '../../src/ingest/delivery-body.js';

describe('delivery records and state', () => {
  const attempt = (n: number, status: number) => ({ attempt: n, at: '2026-01-01T00:00:00.000Z', status, durationMs: 3 });

  const T = Date.parse('2026-01-01T00:00:00.000Z');
  const finished = (n: number, status: number) => ({ attempt: n, at: T, status, durationMs: 3 });

  it('round-trips a record; the next attempt only while retrying', () => {
    const r = { state: 'retrying' as const, attempts: 2, nextAttemptAt: 1767225600000, type: 'order.created', producer: 'shop', attempt: { ...finished(2, 503), error: 'HTTP 503' } };
    const { attempt: _, ...rest } = r;
    expect(parseDeliveryRecord(storedRecord(r))).toEqual({ ...rest, lastAttempt: { ...attempt(2, 503), error: 'HTTP 503' } });
    expect(parseDeliveryRecord('{"s":"delivered","k":1,"n":5,"t":"x"}')).toEqual({ state: 'delivered', attempts: 1, type: 'x' });
    expect(JSON.parse(storedRecord({ state: 'dead', attempts: 1, type: 'x', attempt: finished(1, 400) }))).toEqual({ s: 'dead', k: 1, t: 'x', l: attempt(1, 400) });
    expect(JSON.parse(storedAttempt(finished(1, 502)))).toEqual(attempt(1, 502));
  });

  it('stores a delivery that succeeded as one short line, and reads it back as the same record', () => {
    const line = storedRecord({ state: 'delivered', attempts: 2, type: 'order.created', producer: 'shop', attempt: finished(2, 200) });
    expect(line).toBe(`D|2|${T}|3|200|order.created|shop|`);
    expect(parseDeliveryRecord(line)).toEqual({ state: 'delivered', attempts: 2, type: 'order.created', producer: 'shop', lastAttempt: attempt(2, 200) });
    // The answer is last, separators and all; without a producer its field is empty.
    const answered = storedRecord({ state: 'delivered', attempts: 1, type: 'x', attempt: { ...finished(1, 200), response: 'a|b|{"ok":true}' } });
    expect(parseDeliveryRecord(answered)).toEqual({ state: 'delivered', attempts: 1, type: 'x', lastAttempt: { ...attempt(1, 200), response: 'a|b|{"ok":true}' } });
  });

  it('reads records of the JSON form, as written before the short line', () => {
    const before = JSON.stringify({ s: 'delivered', k: 1, t: 'order.created', p: 'shop', l: attempt(1, 200) });
    expect(parseDeliveryRecord(before)).toEqual({ state: 'delivered', attempts: 1, type: 'order.created', producer: 'shop', lastAttempt: attempt(1, 200) });
  });

  it.each([
    ['a type with the separator', { type: 'a|b' }],
    ['a producer with the separator', { producer: 'a|b' }],
    ['an empty producer', { producer: '' }],
    ['an attempt with an error', { attempt: { ...finished(1, 200), error: 'odd' } }],
    ['an attempt number other than the count', { attempts: 2 }],
  ])('keeps the JSON form for a delivery with %s, and reads it back', (_, change) => {
    const { attempt: noted, ...r } = { state: 'delivered' as const, attempts: 1, type: 'x', producer: 'p', attempt: finished(1, 200), ...change };
    const text = storedRecord({ ...r, attempt: noted });
    expect(text.startsWith('{')).toBe(true);
    expect(parseDeliveryRecord(text)).toEqual({ ...r, lastAttempt: { ...noted, at: '2026-01-01T00:00:00.000Z' } });
  });

  it.each([null, '', 'not json', '{"s":"lost","k":1,"t":"x"}', '{"s":"dead","t":"x"}', '{"s":"dead","k":1}', 'D|1|5|3|200|x', 'D|x|5|3|200|x||', 'D|1|5|3|200|||', 'D|0|5|3|200|x||'])('is no record: %j', (text) => {
    expect(parseDeliveryRecord(text)).toBeUndefined();
  });

  it('puts the attempts in order, skipping lost and broken fields, the last from the record', () => {
    const rec = { state: 'delivered' as const, attempts: 3, type: 'x', lastAttempt: attempt(3, 200) };
    expect(attemptHistory(rec, [JSON.stringify(attempt(1, 502)), null, 'broken']).map((a) => [a.attempt, a.status])).toEqual([[1, 502], [3, 200]]);
    expect(attemptHistory({ state: 'dead', attempts: 0, type: 'x' }, [])).toEqual([]);
  });

  it('buckets by second and expires a bucket when its last event\'s retention is over', () => {
    expect(bucketOf(1767225600999)).toBe(1767225600000);
    expect(bucketExpiry(1767225600123, 60_000)).toBe(1767225600000 + 1_000 + 60_000);
    expect(attemptField('evt_1', 2)).toBe('evt_1:2');
  });

  const rec = (state: 'retrying' | 'delivered' | 'dead') => ({ state, attempts: 1, type: 'x' });
  it.each([
    [{ record: undefined, paused: false }, 'queued'],
    [{ record: undefined, paused: true }, 'paused'],
    [{ record: rec('retrying'), paused: false }, 'retrying'],
    [{ record: rec('retrying'), paused: true }, 'paused'],
    [{ record: rec('delivered'), paused: true }, 'delivered'],
    [{ record: rec('dead'), paused: true }, 'dead'],
  ])('derives %j as %s', (input, state) => {
    expect(deliveryState(input)).toBe(state);
  });
});

describe('the log cursor', () => {
  it('round-trips a position and is opaque (base64url)', () => {
    const c = encodeCursor({ at: 1767225600123, id: 'evt_0123456789abcdef0123456789abcdef' });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c)).toEqual({ at: 1767225600123, id: 'evt_0123456789abcdef0123456789abcdef' });
  });

  it.each(['', 'not a cursor!', Buffer.from('x.evt_1').toString('base64url'), Buffer.from('-5.evt_1').toString('base64url'), Buffer.from('12.').toString('base64url'), Buffer.from('12.evt 1').toString('base64url')])('refuses %j', (c) => {
    expect(decodeCursor(c)).toBeUndefined();
  });

  it('orders newest first, ties by id descending, and says what comes after a cursor', () => {
    const ps = [{ at: 1, id: 'b' }, { at: 2, id: 'a' }, { at: 2, id: 'c' }, { at: 1, id: 'a' }];
    expect([...ps].sort(newestFirst)).toEqual([{ at: 2, id: 'c' }, { at: 2, id: 'a' }, { at: 1, id: 'b' }, { at: 1, id: 'a' }]);
    expect(isAfter({ at: 2, id: 'a' }, { at: 2, id: 'c' })).toBe(true);
    expect(isAfter({ at: 2, id: 'c' }, { at: 2, id: 'c' })).toBe(false);
    expect(isAfter({ at: 3, id: 'a' }, { at: 2, id: 'c' })).toBe(false);
    expect(isAfter({ at: 1, id: 'z' }, { at: 2, id: 'c' })).toBe(true);
  });
});

describe('event facts', () => {
  const body = (payload: unknown, producer?: string) => deliveryBodyJson('evt_1', '"order.created"', '"2026-01-01T00:00:00.000Z"', { userID: 'u', payload: payload as never }, producer);

  it.each([
    [{ a: 1 }, 'shop'],
    [{ a: 1 }, undefined],
    ['a string', undefined],
    [{ a: 1, producer: 'mallory' }, undefined],
    [{ a: 1, producer: 'mallory' }, 'shop'],
    [[{ producer: 'mallory' }], undefined],
    [',"producer":"mallory"}', undefined],
  ])('reads the type and producer of a body with payload %j and producer %s, as JSON.parse does', (payload, producer) => {
    const b = body(payload, producer);
    const parsed = JSON.parse(b) as { type: string; producer?: string };
    expect(eventFacts(b)).toEqual({ type: parsed.type, ...(parsed.producer !== undefined ? { producer: parsed.producer } : {}) });
  });

  it('falls back to a full parse for another shape, and is undefined for what is not an event', () => {
    expect(eventFacts('{"type":"a.b","id":"x","producer":"p","payload":1}')).toEqual({ type: 'a.b', producer: 'p' });
    expect(eventFacts('{"id":"x"}')).toBeUndefined();
    expect(eventFacts('not json')).toBeUndefined();
  });

  it('is visible to a key of the same name and an allowed type; to everyone without keys', () => {
    const facts = { type: 'order.created', producer: 'acme' };
    expect(visibleTo(facts, undefined)).toBe(true);
    expect(visibleTo(undefined, undefined)).toBe(true);
    expect(visibleTo(facts, { name: 'acme' })).toBe(true);
    expect(visibleTo(facts, { name: 'acme', allowsType: (t: string) => t.startsWith('order.') })).toBe(true);
    expect(visibleTo(facts, { name: 'acme', allowsType: (t: string) => t.startsWith('invoice.') })).toBe(false);
    expect(visibleTo(facts, { name: 'shop' })).toBe(false);
    expect(visibleTo({ type: 'order.created' }, { name: 'acme' })).toBe(false);
    expect(visibleTo(undefined, { name: 'acme' })).toBe(false);
  });
});

describe('retention and the response prefix', () => {
  it('takes the destination\'s retention over the default, 0s included', () => {
    expect(logRetentionMs({}, 86_400_000)).toBe(86_400_000);
    expect(logRetentionMs({ eventLog: { retention: '1h' } }, 86_400_000)).toBe(3_600_000);
    expect(logRetentionMs({ eventLog: { retention: '0s' } }, 86_400_000)).toBe(0);
  });

  it('keeps at most 256 bytes of UTF-8 and never half a character', () => {
    expect(responsePrefix('ok')).toBe('ok');
    expect(responsePrefix('a'.repeat(300))).toBe('a'.repeat(256));
    const euros = '€'.repeat(100); // 3 bytes each
    expect(responsePrefix(euros)).toBe('€'.repeat(85));
    expect(Buffer.byteLength(responsePrefix(`x${'😀'.repeat(100)}`))).toBeLessThanOrEqual(256);
    expect(responsePrefix(`x${'😀'.repeat(100)}`)).toBe(`x${'😀'.repeat(63)}`);
  });
});

describe('GET /events query', () => {
  it('defaults the limit and turns times into ms', () => {
    expect(EventsQuery.parse({})).toEqual({ limit: 50 });
    expect(EventsQuery.parse({ since: '2026-01-01T00:00:00Z', until: '2026-01-01T02:00:00+01:00', limit: '10', status: 'dead' })).toEqual({ since: 1767225600000, until: 1767229200000, limit: 10, status: 'dead' });
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '501' }, 'limit'],
    [{ limit: '2.5' }, 'limit'],
    [{ status: 'filtered' }, 'status'],
    [{ since: '1767225600000' }, 'since'],
    [{ type: 'order created' }, 'type'],
    [{ destination: 'UPPER' }, 'destination'],
    [{ unknown: 'x' }, ''],
  ])('refuses %j naming %s', (input, path) => {
    const r = EventsQuery.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path.join('.')).toBe(path);
  });
});
