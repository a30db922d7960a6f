// The SMTP sink's record of received mail, read from inside the cluster (lib/kube.mjs inCluster).
import { env, inCluster } from './kube.mjs';

/**
 * A received mail, whatever shape the sink lists it in: Mailpit's `{messages: [{Subject, To:
 * [{Address}], From: {Address}}]}` or a plain array of `{subject, to, from, text}` (to as strings or
 * `{address}` objects). Pure; unit-tested in test/unit/e2e/mail.test.ts.
 * @returns {{subject: string, to: string[], from: string, text: string}[]}
 */
export function normalizeMails(listing) {
  const list = Array.isArray(listing) ? listing : listing?.messages ?? listing?.items ?? [];
  const addr = (a) => (typeof a === 'string' ? a : a?.Address ?? a?.address ?? '');
  const addrs = (v) => (Array.isArray(v) ? v.map(addr) : v ? String(addr(v)).split(',').map((s) => s.trim()) : []).filter(Boolean);
  return list.map((m) => ({
    subject: String(m.Subject ?? m.subject ?? m.headers?.subject ?? ''),
    to: addrs(m.To ?? m.to ?? m.recipients ?? m.rcptTo),
    from: addr(m.From ?? m.from ?? m.mailFrom ?? ''),
    text: String(m.Snippet ?? m.text ?? m.body ?? m.raw ?? m.data ?? ''),
  }));
}

/** Every mail the sink has received so far. */
export async function mails() {
  return normalizeMails(await inCluster(env.mailUrl));
}
