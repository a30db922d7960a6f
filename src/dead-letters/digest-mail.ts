import type { Mail } from './mailer.js';

export interface DeadLetterNote {
  id: string;
  error: string;
  at: number;
}

/** How many sample ids a digest lists at most; the rest are a `herald dlq list` away. */
export const DIGEST_SAMPLE_LIMIT = 10;

/** Composes the digest email: counts, the first error, sample ids and the exact replay command. */
export function digestMail(opts: { destination: string; total: number; samples: DeadLetterNote[]; namespace?: string }): Mail {
  const { destination, total } = opts;
  // The heading counts the ids listed under it, not the samples the caller happened to pass.
  const samples = opts.samples.slice(0, DIGEST_SAMPLE_LIMIT);
  const first = samples[0];
  const since = first ? new Date(first.at).toISOString() : new Date().toISOString();
  const ns = opts.namespace ? `kubectl -n ${opts.namespace} exec deploy/herald-ingest -- ` : '';
  const lines = [
    `Herald dead-lettered ${total} event${total === 1 ? '' : 's'} for destination "${destination}" since ${since}.`,
    '',
    `First error: ${first?.error ?? 'unknown'}`,
    '',
    `Sample event ids (${samples.length} of ${total}):`,
    ...samples.map((s) => `  ${s.id}  ${new Date(s.at).toISOString()}  ${s.error}`),
    '',
    'Inspect them:',
    `  ${ns}herald dlq list --destination ${destination}`,
    'Once the receiver is fixed, send them again (at a gentle rate):',
    `  ${ns}herald dlq replay --destination ${destination} --since ${since} --rate 10`,
    '',
    'Further digests for this ongoing failure are held back for a while; a short note follows when deliveries succeed again.',
  ];
  return { subject: `[Herald] ${destination}: ${total} event${total === 1 ? '' : 's'} dead-lettered`, text: lines.join('\n') };
}

export function recoveredMail(opts: { destination: string; at: number }): Mail {
  return {
    subject: `[Herald] ${opts.destination}: deliveries recovered`,
    text: `Deliveries to destination "${opts.destination}" succeed again (${new Date(opts.at).toISOString()}). Dead letters from the failure stay in the dead-letter store until replayed or purged.`,
  };
}
