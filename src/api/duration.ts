import { z } from 'zod';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Go-style duration plus days: `500ms`, `10s`, `1h30m`, `2d`. Whole numbers only, so YAML and CRDs agree byte for byte. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d))+$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+)(ms|s|m|h|d)/g;

/**
 * Parses a duration string into milliseconds.
 * @throws Error naming the bad input when the string is not a duration.
 */
export function parseDuration(text: string): number {
  if (!DURATION_RE.test(text)) {
    throw new Error(`invalid duration "${text}": use a number and a unit (ms, s, m, h, d), e.g. "500ms", "10s", "1h30m"`);
  }
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART_RE)) {
    total += Number(n) * UNIT_MS[unit as string]!;
  }
  return total;
}

/** Formats milliseconds as the shortest duration string that parses back to the same value. */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`cannot format duration ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]!;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** A zod string that must be a duration; kept as text so the CRD and YAML show what the user wrote. */
export const durationString = z
  .string()
  .regex(DURATION_RE, { message: 'must be a duration such as "500ms", "10s", "5m", "1h30m" or "1d"' });
