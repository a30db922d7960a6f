import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeliveryBody } from '../../src/api/event.js';
import { deliveryBodyJson } from '../../src/ingest/delivery-body.js';
import { newEventId } from '../../src/ingest/event-id.js';
import { timeOfEventId } from '../../src/api/event.js';

describe('deliveryBodyJson', () => {
  it('writes the bytes JSON.stringify writes for the delivery body, whatever the payload, user and producer', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ unit: 'grapheme' }), fc.jsonValue(), fc.option(fc.string({ unit: 'binary' }), { nil: undefined }), fc.date({ noInvalidDate: true }), (type, userID, payload, producer, at) => {
        const id = newEventId();
        const timestamp = at.toISOString();
        const body: DeliveryBody & { producer?: string } = { id, type, timestamp, userID, payload, ...(producer ? { producer } : {}) };
        expect(deliveryBodyJson(id, JSON.stringify(type), JSON.stringify(timestamp), { userID, payload, type }, producer)).toBe(JSON.stringify(body));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps lone surrogates, control characters and __proto__ keys as JSON.stringify does', () => {
    const payload = JSON.parse('{"__proto__":{"x":1},"s":"\\ud800 \\u0001 \\u2028","2":true,"a":-0}') as object;
    const body = { id: 'evt_x', type: 't', timestamp: 'now', userID: '\udfff', payload };
    expect(deliveryBodyJson('evt_x', '"t"', '"now"', { userID: '\udfff', payload })).toBe(JSON.stringify(body));
  });
});

describe('newEventId', () => {
  it('makes evt_ and 32 hex digits, never the same twice across pool refills', () => {
    const ids = Array.from({ length: 2000 }, newEventId);
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the time it was made, which timeOfEventId reads back', () => {
    const at = Date.parse('2026-12-07T02:00:00.123Z');
    const id = newEventId(at);
    expect(id.slice(4, 16)).toBe(at.toString(16).padStart(12, '0'));
    expect(timeOfEventId(id, at)).toBe(at);
    expect(timeOfEventId(newEventId())).toBeLessThanOrEqual(Date.now());
  });

  it.each(['evt_0123456789abcdef0123456789abcdef', 'evt_paged_0001', 'evt_ffffffffffff0123456789abcdef0123', 'nope'])('finds no time in %s (older ids, hand-made ones, the far future)', (id) => {
    expect(timeOfEventId(id)).toBeUndefined();
  });
});
