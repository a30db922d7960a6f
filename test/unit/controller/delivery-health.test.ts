import { describe, expect, it } from 'vitest';
import { LAST_ERROR_MAX, toDeliveryHealth } from '../../../src/controller/delivery-health.js';

const queue = { waiting: 3, delayed: 2, active: 1, dead: 4, backlog: 6, oldestWaitingSeconds: 12.7 };

describe('toDeliveryHealth', () => {
  it('combines queue state and the workers\' counters, with times as Kubernetes timestamps', () => {
    const h = toDeliveryHealth(queue, { delivered: '120', deadLettered: '7', lastError: 'HTTP 503', lastErrorAt: String(Date.UTC(2030, 0, 1, 10, 0, 0, 500)), lastSuccessAt: String(Date.UTC(2030, 0, 1, 9)) });
    expect(h).toEqual({
      backlog: 6,
      oldestPendingSeconds: 12,
      delivered: 120,
      deadLettered: 7,
      deadLetters: 4,
      lastError: 'HTTP 503',
      lastErrorTime: '2030-01-01T10:00:00Z',
      lastSuccessTime: '2030-01-01T09:00:00Z',
    });
  });

  it('reads a brand-new destination without stats as zeros, and ignores garbage', () => {
    expect(toDeliveryHealth({ ...queue, backlog: 0, oldestWaitingSeconds: 0, dead: 0 }, {})).toEqual({ backlog: 0, oldestPendingSeconds: 0, delivered: 0, deadLettered: 0, deadLetters: 0 });
    expect(toDeliveryHealth(queue, { delivered: 'many', lastErrorAt: 'yesterday' })).not.toHaveProperty('lastErrorTime');
  });

  it('reports an open circuit and a 410 disablement, the latter only while the spec keeps that URL', () => {
    const stats = { disabledUrl: 'https://old.example.com/hook', disabledReason: '410 Gone', disabledAt: String(Date.UTC(2030, 0, 1)) };
    expect(toDeliveryHealth(queue, stats, { breakerOpen: true, url: 'https://old.example.com/hook' })).toMatchObject({
      circuitOpen: true,
      disabledReason: '410 Gone',
      disabledTime: '2030-01-01T00:00:00Z',
    });
    const moved = toDeliveryHealth(queue, stats, { url: 'https://new.example.com/hook' });
    expect(moved).not.toHaveProperty('disabledReason');
    expect(moved).not.toHaveProperty('circuitOpen');
  });

  it('cuts very long errors to fit the status', () => {
    const h = toDeliveryHealth(queue, { lastError: 'x'.repeat(5_000) });
    expect(h.lastError).toHaveLength(LAST_ERROR_MAX);
    expect(h.lastError!.endsWith('…')).toBe(true);
  });

  it('shows ordering keys while some key has an event pending, and nothing for a destination without', () => {
    expect(toDeliveryHealth(queue, {}, { ordering: { keys: 3, blocked: 1, waiting: 40, oldestWaitingSince: Date.UTC(2030, 0, 1, 8, 0, 0, 900) } }).ordering).toEqual({
      keys: 3,
      blockedKeys: 1,
      waiting: 40,
      oldestWaitingTime: '2030-01-01T08:00:00Z',
    });
    expect(toDeliveryHealth(queue, {}, { ordering: { keys: 0, blocked: 0, waiting: 0 } })).not.toHaveProperty('ordering');
    expect(toDeliveryHealth(queue, {})).not.toHaveProperty('ordering');
  });
});
