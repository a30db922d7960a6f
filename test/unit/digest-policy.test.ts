import { describe, expect, it } from 'vitest';
import { decideDigest, smtpRetryDelay } from '../../src/dead-letters/digest-policy.js';
import { digestMail } from '../../src/dead-letters/digest-mail.js';

const t = { windowMs: 60_000, suppressMs: 3_600_000 };
const MIN = 60_000;

describe('decideDigest', () => {
  it('gathers dead letters for the window before the first digest', () => {
    expect(decideDigest({ now: 30_000, pending: 3, oldestPendingAt: 0, inEpisode: false }, t)).toBe('wait');
    expect(decideDigest({ now: MIN, pending: 3, oldestPendingAt: 0, inEpisode: false }, t)).toBe('digest');
  });
  it('holds back repeat digests of an ongoing failure for the suppression window', () => {
    const s = { pending: 50, oldestPendingAt: 0, inEpisode: true, lastDigestAt: 0 };
    expect(decideDigest({ ...s, now: 30 * MIN }, t)).toBe('wait');
    expect(decideDigest({ ...s, now: 60 * MIN }, t)).toBe('digest');
  });
  it('sends "recovered" once a delivery succeeds after the last dead letter', () => {
    expect(decideDigest({ now: 10 * MIN, pending: 0, inEpisode: true, lastDigestAt: 0, lastDeadAt: MIN, lastSuccessAt: 2 * MIN }, t)).toBe('recovered');
    expect(decideDigest({ now: 10 * MIN, pending: 0, inEpisode: true, lastDigestAt: 0, lastDeadAt: 3 * MIN, lastSuccessAt: 2 * MIN }, t)).toBe('none');
    expect(decideDigest({ now: 10 * MIN, pending: 0, inEpisode: false, lastSuccessAt: 2 * MIN }, t)).toBe('none');
  });
  it('backs off after an SMTP failure', () => {
    expect(decideDigest({ now: MIN, pending: 1, oldestPendingAt: 0, inEpisode: false, retryAt: MIN + 1 }, t)).toBe('wait');
    expect([1, 2, 3, 10, 20].map(smtpRetryDelay)).toEqual([10_000, 20_000, 40_000, 600_000, 600_000]);
  });
});

describe('digestMail', () => {
  it('states the count, the first error, sample ids and the replay command', () => {
    const m = digestMail({ destination: 'orders', total: 120, samples: [{ id: 'evt_1', error: 'HTTP 500', at: 0 }, { id: 'evt_2', error: 'HTTP 502', at: 1 }], namespace: 'herald' });
    expect(m.subject).toBe('[Herald] orders: 120 events dead-lettered');
    expect(m.text).toContain('First error: HTTP 500');
    expect(m.text).toContain('evt_1');
    expect(m.text).toContain('kubectl -n herald exec deploy/herald-ingest -- herald dlq replay --destination orders --since 1970-01-01T00:00:00.000Z --rate 10');
  });

  it('counts in the sample heading exactly the ids it lists', () => {
    const samples = Array.from({ length: 20 }, (_, i) => ({ id: `evt_${i}`, error: 'HTTP 500', at: i }));
    const m = digestMail({ destination: 'orders', total: 20, samples });
    const listed = m.text.split('\n').filter((l) => /^  evt_/.test(l));
    expect(m.text).toContain(`Sample event ids (${listed.length} of 20):`);
    expect(listed).toHaveLength(10);
  });
});
