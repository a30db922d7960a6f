import type { AttemptRecord } from '../api/event-log.js';

/**
 * One attempt as kept in the job's log (shown by `herald dlq show`) and in the delivery log: one
 * shape, defined with the events API's schema (src/api/event-log.ts).
 */
export type { AttemptRecord };

export function parseAttemptLog(lines: string[]): AttemptRecord[] {
  const out: AttemptRecord[] = [];
  for (const l of lines) {
    try {
      out.push(JSON.parse(l) as AttemptRecord);
    } catch {
      // A hand-written log line is not an attempt; skip it.
    }
  }
  return out;
}
