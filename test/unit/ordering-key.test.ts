import { describe, expect, it } from 'vitest';
import { DestinationSpec } from '../../src/api/destination.js';
import type { IngestEvent } from '../../src/api/event.js';
import { MAX_STORED_KEY_LENGTH, orderingKeyOf, parseKeySource, parsePointer, resolvePointer } from '../../src/ordering/ordering-key.js';

const event = (payload: {} | null, extra: { userID?: string; type?: string } = {}): IngestEvent => ({ userID: extra.userID ?? 'user-1', payload, ...(extra.type ? { type: extra.type } : {}) });

describe('parsePointer (RFC 6901)', () => {
  it('splits on "/" and unescapes ~1 before ~0', () => {
    expect(parsePointer('/a~1b/~0c')).toEqual(['a/b', '~c']);
    expect(parsePointer('/~01')).toEqual(['~1']);
  });

  it('keeps empty tokens: "/" is the key "" and "//" two of them', () => {
    expect(parsePointer('/')).toEqual(['']);
    expect(parsePointer('//')).toEqual(['', '']);
    expect(parsePointer('')).toEqual([]);
  });

  it('refuses a pointer without a leading "/" and a "~" not followed by 0 or 1', () => {
    expect(() => parsePointer('a')).toThrow(/must start with/);
    expect(() => parsePointer('/a~2')).toThrow(/"~"/);
    expect(() => parsePointer('/a~')).toThrow(/"~"/);
  });
});

describe('resolvePointer', () => {
  const doc = { order: { id: 'o-1', lines: [{ sku: 'x' }, { sku: 'y' }] }, 'a/b': 1, '': 'empty', n: null };

  it('walks objects and arrays', () => {
    expect(resolvePointer(doc, ['order', 'id'])).toBe('o-1');
    expect(resolvePointer(doc, ['order', 'lines', '1', 'sku'])).toBe('y');
    expect(resolvePointer(doc, ['a/b'])).toBe(1);
    expect(resolvePointer(doc, [''])).toBe('empty');
    expect(resolvePointer(doc, [])).toBe(doc);
  });

  it('is undefined for a missing step, "-", a leading zero or a step into a scalar', () => {
    expect(resolvePointer(doc, ['order', 'nope'])).toBeUndefined();
    expect(resolvePointer(doc, ['order', 'lines', '-'])).toBeUndefined();
    expect(resolvePointer(doc, ['order', 'lines', '01'])).toBeUndefined();
    expect(resolvePointer(doc, ['order', 'lines', '2'])).toBeUndefined();
    expect(resolvePointer(doc, ['order', 'id', 'x'])).toBeUndefined();
    expect(resolvePointer(doc, ['n', 'x'])).toBeUndefined();
  });

  it('reads own properties only: /constructor of a plain object is missing', () => {
    expect(resolvePointer({}, ['constructor'])).toBeUndefined();
    expect(resolvePointer([], ['length'])).toBeUndefined();
  });
});

describe('orderingKeyOf', () => {
  it('takes userID, the type (default "event") or a header', () => {
    expect(orderingKeyOf(parseKeySource('userID'), event(1, { userID: 'u-9' }))).toBe('u-9');
    expect(orderingKeyOf(parseKeySource('type'), event(1, { type: 'order.paid' }))).toBe('order.paid');
    expect(orderingKeyOf(parseKeySource('type'), event(1))).toBe('event');
    expect(orderingKeyOf(parseKeySource('header:Ordering-Key'), event(1), { 'ordering-key': 'cart-7' })).toBe('cart-7');
    expect(orderingKeyOf(parseKeySource('header:ordering-key'), event(1), {})).toBeUndefined();
    expect(orderingKeyOf(parseKeySource('header:ordering-key'), event(1))).toBeUndefined();
  });

  it('takes strings as they are and numbers and booleans by their JSON text', () => {
    const src = parseKeySource('/id');
    expect(orderingKeyOf(src, event({ id: 'o-1' }))).toBe('o-1');
    expect(orderingKeyOf(src, event({ id: 42 }))).toBe('42');
    expect(orderingKeyOf(src, event({ id: '42' }))).toBe('42');
    expect(orderingKeyOf(src, event({ id: 1.5 }))).toBe('1.5');
    expect(orderingKeyOf(src, event({ id: true }))).toBe('true');
  });

  it('has no key for objects, arrays, null, empty strings and missing values', () => {
    const src = parseKeySource('/id');
    for (const id of [{ a: 1 }, [1], null, '']) expect(orderingKeyOf(src, event({ id }))).toBeUndefined();
    expect(orderingKeyOf(src, event({}))).toBeUndefined();
    expect(orderingKeyOf(src, event('a string payload'))).toBeUndefined();
  });

  it('stores a long key by its SHA-256, the same for the same key', () => {
    const src = parseKeySource('/id');
    const long = 'x'.repeat(MAX_STORED_KEY_LENGTH + 1);
    const a = orderingKeyOf(src, event({ id: long }))!;
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(orderingKeyOf(src, event({ id: long }))).toBe(a);
    expect(orderingKeyOf(src, event({ id: `${long}y` }))).not.toBe(a);
    expect(orderingKeyOf(src, event({ id: 'x'.repeat(MAX_STORED_KEY_LENGTH) }))).toBe('x'.repeat(MAX_STORED_KEY_LENGTH));
  });
});

describe('spec.ordering', () => {
  const base = { url: 'https://example.test/hook' };

  it('is off by default; onDeadLetter defaults to continue', () => {
    expect(DestinationSpec.parse(base).ordering).toBeUndefined();
    expect(DestinationSpec.parse({ ...base, ordering: { key: 'userID' } }).ordering).toEqual({ key: 'userID', onDeadLetter: 'continue' });
  });

  it('accepts userID, type, JSON pointers and header:<name>', () => {
    for (const key of ['userID', 'type', '/orderId', '/order/id', '/a~1b', '/', 'header:ordering-key']) {
      expect(DestinationSpec.safeParse({ ...base, ordering: { key } }).success, key).toBe(true);
    }
  });

  it('refuses other keys, bad escapes and unknown fields, saying what a key may be', () => {
    for (const key of ['orderId', 'userid', '/a~2', 'header:', 'header:bad name', '']) {
      const r = DestinationSpec.safeParse({ ...base, ordering: { key } });
      expect(r.success, key).toBe(false);
      expect(JSON.stringify(r.error?.issues), key).toMatch(/userID, type, a JSON pointer/);
    }
    expect(DestinationSpec.safeParse({ ...base, ordering: { key: 'userID', onDeadLetter: 'drop' } }).success).toBe(false);
    expect(DestinationSpec.safeParse({ ...base, ordering: { key: 'userID', extra: 1 } }).success).toBe(false);
  });
});
