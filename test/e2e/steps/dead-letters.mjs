// Step 2: a failing receiver's events are dead-lettered, Herald mails exactly one digest about
// them, and — dead letters continuing — Prometheus' HeraldDeadLettersIncreasing alert fires and
// Alertmanager mails it to the same SMTP sink.
import { setTimeout as delay } from 'node:timers/promises';
import { Failure, RUN, info, kubectl, kubectlJson, step, waitFor } from '../lib/kube.mjs';
import { sendEvent } from '../lib/ingest.mjs';
import { mails } from '../lib/mail.mjs';
import { alertmanagerAlerts, alerts, query } from '../lib/prometheus.mjs';

const DIGEST_SUBJECT = /^\[Herald\] e2e-failing: \d+ events? dead-lettered$/;
export const ALERT = 'HeraldDeadLettersIncreasing';

/** Herald's digest mails about e2e-failing received so far. */
async function digests() {
  return (await mails()).filter((m) => DIGEST_SUBJECT.test(m.subject));
}

/**
 * @param events the accepted events of step 1 (order.created ones go to e2e-failing)
 */
export async function deadLettersAndDigest(events) {
  const failing = events.filter((e) => e.destinations.includes('e2e-failing'));
  step('2a. every event to the failing receiver is dead-lettered');
  await waitFor(`status.delivery.deadLettered of e2e-failing to reach ${failing.length}`, () => {
    const d = kubectlJson(['get', 'destination', 'e2e-failing']);
    const n = d.status?.delivery?.deadLettered ?? 0;
    if (n < failing.length) throw new Error(`deadLettered=${n}; status: ${JSON.stringify(d.status ?? {})}`);
    return true;
  });
  const dlq = kubectl(['exec', 'deploy/herald-ingest', '--', 'herald', 'dlq', 'list', '--destination', 'e2e-failing', '--json']);
  const notListed = failing.filter((e) => !dlq.includes(e.id));
  if (notListed.length > 0) throw new Failure(`herald dlq list does not show ${notListed.map((e) => e.id).join(', ')}:\n${dlq}`);
  info(`all ${failing.length} events for e2e-failing are in its dead letters (status and herald dlq list)`);

  step('2b. one digest email about e2e-failing reaches the SMTP sink');
  const first = await waitFor('a dead-letter digest at the SMTP sink', async () => (await digests())[0], { timeoutMs: 90_000, intervalMs: 2_000 });
  if (!first.to.includes('oncall@e2e.test')) throw new Failure(`digest went to ${JSON.stringify(first.to)}, expected oncall@e2e.test`);
  info(`"${first.subject}" to ${first.to.join(', ')}`);
}

/**
 * Keeps dead letters coming: one partner.ping (which only e2e-failing and e2e-all take) every
 * `everyMs`, in the background, until stopped. A single burst cannot fire HeraldDeadLettersIncreasing:
 * `increase()` needs the counter to grow between two scrapes, which is the rule's intent (a one-off
 * dead letter is the digest's job). Started before the autoscaling step so the alert ripens meanwhile.
 */
export function startDeadLetterTrickle({ everyMs = 5_000 } = {}) {
  let n = 0;
  let stopping = false;
  let wake;
  let error;
  const done = (async () => {
    while (!stopping) {
      await sendEvent({ userID: 'partner', type: 'partner.ping', payload: { n, run: RUN } }, `e2e-${RUN}-ping-${n}`);
      n++;
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs);
      });
    }
  })().catch((err) => {
    error = err;
  });
  return {
    get sent() {
      return n;
    },
    async stop() {
      stopping = true;
      wake?.();
      await done;
      if (error) throw error;
      return n;
    },
  };
}

/**
 * Waits for Prometheus to fire HeraldDeadLettersIncreasing for e2e-failing (the trickle keeps dead
 * letters coming), for Alertmanager to hold it, and for its mail at the SMTP sink; then checks that
 * Herald still sent exactly one digest (later dead letters are suppressed for `suppress`).
 */
export async function deadLetterAlert(trickle) {
  step(`2c. dead letters keep coming: Prometheus fires ${ALERT} and Alertmanager mails it`);
  try {
    const firing = await waitFor(`${ALERT}{destination="e2e-failing"} firing in Prometheus`, async () => {
      const a = (await alerts()).find((x) => x.labels.alertname === ALERT && x.labels.destination === 'e2e-failing');
      if (a?.state === 'firing') return a;
      const inc = await query('destination:herald_dead_letters:increase15m').catch((e) => ({ result: String(e) }));
      throw new Error(`alert ${a ? a.state : 'not pending yet'}; destination:herald_dead_letters:increase15m = ${JSON.stringify(inc.result)}`);
    }, { timeoutMs: 240_000, intervalMs: 3_000 });
    info(`${ALERT} firing since ${firing.activeAt} (${trickle.sent} partner.ping events sent meanwhile)`);
  } finally {
    await trickle.stop();
  }
  await waitFor(`${ALERT} in Alertmanager`, async () => {
    const list = await alertmanagerAlerts();
    return list.some((a) => a.labels?.alertname === ALERT && a.labels?.destination === 'e2e-failing');
  }, { timeoutMs: 120_000, intervalMs: 2_000 });
  const mail = await waitFor(`Alertmanager's mail about ${ALERT} at the SMTP sink`, async () => (await mails()).find((m) => m.subject.includes(ALERT) || m.text.includes(ALERT)), { timeoutMs: 180_000, intervalMs: 3_000 });
  info(`Alertmanager mailed "${mail.subject}" to ${mail.to.join(', ')}`);
  // digestWindow 3s, suppress 10m: the dead letters since the first digest must not have produced another.
  await delay(5_000);
  const count = (await digests()).length;
  if (count !== 1) throw new Failure(`expected exactly one Herald digest email about e2e-failing, the sink has ${count}`);
  info('still exactly one Herald digest email (later dead letters were suppressed)');
}
