// Step 6: under a steady load through the Ingress, (a) deleting the controller's leader pod hands
// the Lease over and reconciling goes on, (b) force-deleting a worker pod loses nothing, and (c) a
// `helm upgrade` rolling ingest answers no 5xx but 503 and loses no accepted event. Every answer is
// counted; accepted, delivered, duplicated and lost are printed, and lost must be 0.
import { Failure, RUN, env, helm, info, inCluster, kubectlApply, kubectlAsync, kubectlJsonAsync, step, waitFor } from '../lib/kube.mjs';
import { startLoad } from '../lib/ingest.mjs';
import { formatTally, tallyLoad } from '../lib/tally.mjs';

const LEASE = process.env.E2E_LEASE ?? 'herald-controller';

async function waitAccepted(load, n, what) {
  const target = load.events.filter((e) => e.id).length + n;
  await waitFor(`${n} more events accepted ${what}`, () => load.events.filter((e) => e.id).length >= target, { timeoutMs: 120_000, intervalMs: 500 });
}

async function leaderHandover(load) {
  step('6a. deleting the controller leader pod hands the Lease over; reconciling goes on');
  const lease = await kubectlJsonAsync(['get', 'lease', LEASE]);
  const leader = lease.spec?.holderIdentity;
  if (!leader) throw new Failure(`Lease ${LEASE} has no holder: ${JSON.stringify(lease.spec)}`);
  const transitions = lease.spec.leaseTransitions ?? 0;
  info(`Lease ${LEASE} held by ${leader} (transitions ${transitions}); deleting that pod`);
  await kubectlAsync(['delete', 'pod', leader, '--wait=false']);
  const next = await waitFor(`Lease ${LEASE} to pass from ${leader} to another pod`, async () => {
    const l = await kubectlJsonAsync(['get', 'lease', LEASE]);
    const holder = l.spec?.holderIdentity;
    if (!holder || holder === leader) throw new Error(`holder ${holder || '(none)'}`);
    return l.spec;
  }, { timeoutMs: 90_000, intervalMs: 1_000 });
  info(`Lease now held by ${next.holderIdentity} (transitions ${next.leaseTransitions ?? '?'})`);
  const late = {
    apiVersion: 'herald.dev/v1alpha1',
    kind: 'Destination',
    metadata: { name: 'e2e-late' },
    spec: { url: 'http://e2e-receiver/ok/late', filter: { types: ['late.*'] } },
  };
  await kubectlApply(late);
  await waitFor('the new leader to reconcile Destination e2e-late into a Ready worker Deployment', async () => {
    const d = await kubectlJsonAsync(['get', 'deployment', 'herald-worker-e2e-late']);
    if ((d.status?.readyReplicas ?? 0) < 1) throw new Error(`readyReplicas=${d.status?.readyReplicas ?? 0}`);
    return true;
  }, { timeoutMs: 150_000, intervalMs: 2_000 });
  info('herald-worker-e2e-late is Ready: the new leader reconciles');
  await waitAccepted(load, 20, 'after the hand-over');
}

async function workerKill(load) {
  step('6b. force-deleting a worker pod of e2e-steady loses nothing');
  const pods = await kubectlJsonAsync(['get', 'pods', '-l', 'herald.dev/destination=e2e-steady']);
  const victim = pods.items.find((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  if (!victim) throw new Failure(`no running worker pod of e2e-steady: ${pods.items.map((p) => `${p.metadata.name} ${p.status?.phase}`).join(', ')}`);
  await kubectlAsync(['delete', 'pod', victim.metadata.name, '--force', '--grace-period=0']);
  info(`force-deleted ${victim.metadata.name}`);
  await waitFor('herald-worker-e2e-steady back to 2 ready replicas', async () => {
    const d = await kubectlJsonAsync(['get', 'deployment', 'herald-worker-e2e-steady']);
    if ((d.status?.readyReplicas ?? 0) < 2) throw new Error(`readyReplicas=${d.status?.readyReplicas ?? 0}`);
    return true;
  }, { timeoutMs: 120_000, intervalMs: 2_000 });
  await waitAccepted(load, 20, 'after the worker was killed');
}

async function ingestUpgrade(load) {
  step('6c. helm upgrade rolls ingest under load');
  const before = (await kubectlJsonAsync(['get', 'pods', '-l', 'app.kubernetes.io/component=ingest'])).items.map((p) => p.metadata.name);
  const t0 = Date.now();
  await helm(['upgrade', env.release, env.chart, '--reuse-values', '--set-string', `ingest.podAnnotations.e2e-rollout=${RUN}`, '--wait', '--timeout', '5m']);
  await kubectlAsync(['rollout', 'status', 'deployment/herald-ingest', '--timeout=300s']);
  const after = (await kubectlJsonAsync(['get', 'pods', '-l', 'app.kubernetes.io/component=ingest'])).items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
  if (after.some((n) => before.includes(n))) throw new Failure(`ingest pods were not replaced: before ${before.join(', ')}, after ${after.join(', ')}`);
  info(`ingest rolled in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${before.join(', ')} -> ${after.join(', ')}`);
  await waitAccepted(load, 30, 'after the upgrade');
}

/** @returns the tally (lib/tally.mjs) for the final summary */
export async function resilience() {
  step('6. steady load through the Ingress (steady.tick events, each with its own Idempotency-Key)');
  const load = startLoad({
    keyPrefix: `steady-${RUN}`,
    makeEvent: (i) => ({ userID: `steady-${i % 7}`, type: 'steady.tick', payload: { i, run: RUN } }),
    // About 20-30 events/s on a two-core machine: steady, without starving the cluster.
    workers: 3,
    pauseMs: 100,
  });
  let tally;
  try {
    await waitAccepted(load, 50, 'before the faults');
    await leaderHandover(load);
    await workerKill(load);
    await ingestUpgrade(load);
  } finally {
    const events = await load.stop();
    info(`load stopped after ${events.length} events`);
  }
  const accepted = new Set(load.events.filter((e) => e.id).map((e) => e.id));
  step(`6d. every accepted event reaches e2e-steady (${accepted.size} accepted)`);
  let ids = [];
  await waitFor('every accepted steady.tick delivered', async () => {
    ids = (await inCluster(`http://127.0.0.1:8080/_ids?prefix=/ok/steady&contains=${RUN}`)).map(([, id]) => id);
    const got = new Set(ids);
    const missing = [...accepted].filter((id) => !got.has(id));
    if (missing.length > 0) throw new Error(`${missing.length} not delivered yet, e.g. ${missing.slice(0, 5).join(', ')}`);
    return true;
  }, { timeoutMs: 180_000, intervalMs: 3_000 }).catch((err) => info(String(err.message)));
  tally = tallyLoad(load.events, ids);
  info(formatTally(tally));
  const refused = load.events.filter((e) => e.error);
  if (refused.length > 0) throw new Failure(`${refused.length} events were refused for good, e.g. ${refused.slice(0, 3).map((e) => `${e.key}: ${e.error}`).join('; ')}`);
  if (tally.lost > 0) throw new Failure(`${tally.lost} accepted events were never delivered, e.g. ${tally.lostIds.slice(0, 5).join(', ')} (${formatTally(tally)})`);
  if (tally.unexpected5xx > 0) throw new Failure(`ingest (through the Ingress) answered ${tally.unexpected5xx} 5xx other than 503 (${formatTally(tally)})`);
  if (tally.notAccepted > 0) throw new Failure(`${tally.notAccepted} events never got a 202 (${formatTally(tally)})`);
  return tally;
}
