import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/api/duration.js';
import { parseSize } from '../../src/config/config.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['0s', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', '1.5s', '-1s', '10 s', 's', '1w', '10S'])('refuses %j with a hint', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration .* use a number and a unit/);
  });

  it('formats back to a string that parses to the same value', () => {
    for (const ms of [0, 1, 999, 1_000, 61_000, 5_400_000, 86_400_000 + 1]) expect(parseDuration(formatDuration(ms))).toBe(ms);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('parseSize', () => {
  it('reads bytes and units', () => {
    expect(parseSize('65536')).toBe(65_536);
    expect(parseSize('1mib')).toBe(1_048_576);
    expect(parseSize('1MB')).toBe(1_000_000);
    expect(() => parseSize('big')).toThrow(/invalid size/);
  });
});
