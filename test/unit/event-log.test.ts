import { describe, expect, it } from 'vitest';
import { EventsQuery } from '../../src/api/event-log.js';
import { decodeCursor, encodeCursor, isAfter, newestFirst } from '../../src/eventlog/cursor.js';
import { deliveryState, parseDeliveryRecord } from '../../src/eventlog/delivery-record.js';
import { eventMetaJson, parseEventMeta, routingLogTail, visibleTo } from '../../src/eventlog/event-meta.js';
import { logRetentionMs, longestRetention, responsePrefix } from '../../src/eventlog/retention.js';

describe('delivery state', () => {
  const attempt = (n: number, status: number) => JSON.stringify({ attempt: n, at: '2026-01-01T00:00:00.000Z', status, durationMs: 3 });

  it('reads a record: state, next attempt, attempts oldest first whatever the field order', () => {
    const r = parseDeliveryRecord({ s: 'retrying', n: '1767225600000', 2: attempt(2, 503), 1: attempt(1, 502) });
    expect(r).toEqual({ state: 'retrying', nextAttemptAt: 1767225600000, attempts: [expect.objectContaining({ attempt: 1, status: 502 }), expect.objectContaining({ attempt: 2, status: 503 })] });
  });

  it('keeps the next attempt only while retrying, and skips a field that is not an attempt', () => {
    expect(parseDeliveryRecord({ s: 'delivered', n: '', 1: attempt(1, 200), 2: 'not json' })).toEqual({ state: 'delivered', attempts: [expect.objectContaining({ attempt: 1 })] });
  });

  it('is no record when there is none, or its state is unknown', () => {
    expect(parseDeliveryRecord({})).toBeUndefined();
    expect(parseDeliveryRecord(undefined)).toBeUndefined();
    expect(parseDeliveryRecord({ s: 'lost' })).toBeUndefined();
  });

  it.each([
    [{ filtered: true, record: undefined, paused: false }, 'filtered'],
    [{ filtered: false, record: undefined, paused: false }, 'queued'],
    [{ filtered: false, record: undefined, paused: true }, 'paused'],
    [{ filtered: false, record: { state: 'retrying' as const, attempts: [] }, paused: false }, 'retrying'],
    [{ filtered: false, record: { state: 'retrying' as const, attempts: [] }, paused: true }, 'paused'],
    [{ filtered: false, record: { state: 'delivered' as const, attempts: [] }, paused: true }, 'delivered'],
    [{ filtered: false, record: { state: 'dead' as const, attempts: [] }, paused: true }, 'dead'],
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

describe('the event record', () => {
  it('is the JSON of its parts, read back whole', () => {
    const tail = routingLogTail(['orders', 'billing'], ['users']);
    const text = eventMetaJson(1767225600000, JSON.stringify('order.created'), JSON.stringify('shop'), tail);
    expect(JSON.parse(text)).toEqual({ a: 1767225600000, t: 'order.created', p: 'shop', d: ['orders', 'billing'], f: ['users'] });
    expect(parseEventMeta(text)).toEqual({ acceptedAt: 1767225600000, type: 'order.created', producer: 'shop', routed: ['orders', 'billing'], filtered: ['users'] });
    expect(parseEventMeta(eventMetaJson(1, '"t"', undefined, routingLogTail(['a'], [])))).toEqual({ acceptedAt: 1, type: 't', routed: ['a'], filtered: [] });
  });

  it.each([null, '', 'not json', '{"t":"x","d":[]}', '{"a":1,"t":2,"d":[]}', '{"a":1,"t":"x","d":"a"}'])('is not a record: %j', (text) => {
    expect(parseEventMeta(text)).toBeUndefined();
  });

  it('is visible to a key of the same name and an allowed type; to everyone without keys', () => {
    const meta = { acceptedAt: 1, type: 'order.created', producer: 'acme', routed: [], filtered: [] };
    expect(visibleTo(meta, undefined)).toBe(true);
    expect(visibleTo(meta, { name: 'acme' })).toBe(true);
    expect(visibleTo(meta, { name: 'acme', allowsType: (t) => t.startsWith('order.') })).toBe(true);
    expect(visibleTo(meta, { name: 'acme', allowsType: (t) => t.startsWith('invoice.') })).toBe(false);
    expect(visibleTo(meta, { name: 'shop' })).toBe(false);
    expect(visibleTo({ ...meta, producer: undefined } as never, { name: 'acme' })).toBe(false);
  });
});

describe('retention and the response prefix', () => {
  it('takes the destination\'s retention over the default, 0s included', () => {
    expect(logRetentionMs({}, 86_400_000)).toBe(86_400_000);
    expect(logRetentionMs({ eventLog: { retention: '1h' } }, 86_400_000)).toBe(3_600_000);
    expect(logRetentionMs({ eventLog: { retention: '0s' } }, 86_400_000)).toBe(0);
    expect(longestRetention([])).toBe(0);
    expect(longestRetention([5, 0, 7])).toBe(7);
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
