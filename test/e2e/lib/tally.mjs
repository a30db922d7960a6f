// Counting of the steady-load step: what the load generator was told and what the receiver got.
// Pure: unit-tested in test/unit/e2e/tally.test.ts.

/**
 * One logical event of the load: its Idempotency-Key, every HTTP answer it got (a status code, or
 * 'network' when no answer came), and the event id of the 202 that ended its retries, if any.
 * @typedef {{key: string, answers: (number|'network')[], id?: string}} LoadEvent
 */

/**
 * Tallies a load run.
 * - accepted: events that got a 202 (each counted once, however many retries it took);
 * - delivered: accepted ids the receiver saw at least once;
 * - duplicated: accepted ids the receiver saw more than once (at-least-once allows it; reported);
 * - lost: accepted ids never seen (must be 0);
 * - unexpected5xx: answers with a 5xx other than 503 (ingest promises none; a proxy's 502/504 counts);
 * - strays: ids the receiver saw that no 202 announced (an answer lost on the way after the event was stored);
 * - answers: every HTTP answer by status, retries included.
 * @param {LoadEvent[]} events
 * @param {Iterable<string>} receivedIds webhook-id of every delivery to the load's receiver path, repeats included
 */
export function tallyLoad(events, receivedIds) {
  const seen = new Map();
  for (const id of receivedIds) seen.set(id, (seen.get(id) ?? 0) + 1);
  const answers = {};
  let unexpected5xx = 0;
  const acceptedIds = new Set();
  for (const e of events) {
    for (const a of e.answers) {
      answers[a] = (answers[a] ?? 0) + 1;
      if (typeof a === 'number' && a >= 500 && a !== 503) unexpected5xx++;
    }
    if (e.id !== undefined) acceptedIds.add(e.id);
  }
  const lostIds = [...acceptedIds].filter((id) => !seen.has(id));
  const duplicatedIds = [...acceptedIds].filter((id) => (seen.get(id) ?? 0) > 1);
  const strayIds = [...seen.keys()].filter((id) => !acceptedIds.has(id));
  return {
    sent: events.length,
    accepted: acceptedIds.size,
    notAccepted: events.filter((e) => e.id === undefined).length,
    delivered: acceptedIds.size - lostIds.length,
    duplicated: duplicatedIds.length,
    lost: lostIds.length,
    unexpected5xx,
    strays: strayIds.length,
    answers,
    lostIds,
    duplicatedIds,
    strayIds,
  };
}

/** The one-line summary printed at the end of the run. */
export function formatTally(t) {
  const answers = Object.entries(t.answers)
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `sent=${t.sent} accepted=${t.accepted} delivered=${t.delivered} duplicated=${t.duplicated} lost=${t.lost} unexpected5xx=${t.unexpected5xx} strays=${t.strays} answers{${answers}}`;
}

/**
 * Whether an answer is worth retrying with the same Idempotency-Key: no answer at all, 503 (ingest
 * refused while Redis or the pod was unavailable), and a proxy's 502/504 (counted as unexpected, but
 * the producer must still get its event in).
 * @param {number|'network'} answer
 */
export function retryable(answer) {
  return answer === 'network' || answer === 502 || answer === 503 || answer === 504;
}
