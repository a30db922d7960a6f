// Assertions of `make e2e`, run by test/e2e/run.sh once the kind cluster, the chart, the receiver,
// the SMTP sink and the Destinations are in place. Plain Node (no build step, no dependencies):
// it drives the cluster with kubectl and sends events through the Ingress with fetch.
//
// What it proves, in order (each step waits on a condition with a deadline, never on a sleep):
//   1. the controller made a Ready worker Deployment for every Destination;
//   2. events POSTed to http://127.0.0.1/ingest through ingress-nginx are accepted (202) and routed
//      by type (order.* also to e2e-orders);
//   3. every event reaches each healthy receiver with the right JSON body and webhook-id;
//   4. every event to the always-500 receiver is dead-lettered (Destination status and `herald dlq`);
//   5. exactly one digest email about it reaches the SMTP sink;
//   6. Destination status shows Ready and the delivered / dead-lettered figures;
//   7. deleting a Destination removes its worker Deployment.
// Exit code 0 when all hold; otherwise 1 with what was expected and what was seen.
import { execFileSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

const NS = process.env.E2E_NAMESPACE ?? 'herald-e2e';
const INGEST_URL = process.env.E2E_INGEST_URL ?? 'http://127.0.0.1/ingest';
// Its sha256 is in test/e2e/values.yaml (ingest.auth.keys).
const API_KEY = 'hk_e2e-not-a-secret';
const RUN = Date.now().toString(36);

const step = (msg) => console.log(`\n[verify] ${msg}`);
const info = (msg) => console.log(`[verify]   ${msg}`);

class Failure extends Error {}

function kubectl(args, { input } = {}) {
  return execFileSync('kubectl', ['-n', NS, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
}

function kubectlJson(args) {
  return JSON.parse(kubectl([...args, '-o', 'json']));
}

/** GET a URL from inside the cluster, through the receiver pod's node (no curl needed anywhere). */
function inCluster(url) {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => { if (!r.ok) throw new Error(r.status + ' ' + (await r.text())); process.stdout.write(await r.text()); })`;
  return JSON.parse(kubectl(['exec', 'deploy/e2e-receiver', '--', 'node', '-e', script]));
}

/** Polls `check` until it returns a truthy value; on timeout throws with `what` and the last observation. */
async function waitFor(what, check, { timeoutMs = 120_000, intervalMs = 1_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = 'condition not met yet';
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Failure(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n  last seen: ${String(last).slice(0, 2000)}`);
    await delay(intervalMs);
  }
}

function condition(dest, type) {
  return (dest.status?.conditions ?? []).find((c) => c.type === type);
}

async function postEvent(event, key) {
  // An Idempotency-Key makes the retries below safe while the Ingress is still warming up.
  return waitFor(
    `ingest to accept ${key} through the Ingress at ${INGEST_URL}`,
    async () => {
      const res = await fetch(INGEST_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, 'idempotency-key': key },
        body: JSON.stringify(event),
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text);
    },
    { timeoutMs: 180_000, intervalMs: 2_000 },
  );
}

async function main() {
  const healthy = ['e2e-all', 'e2e-orders'];
  const all = [...healthy, 'e2e-failing'];

  step('1. the controller runs a Ready worker Deployment per Destination');
  for (const name of all) {
    await waitFor(`Deployment herald-worker-${name} with a ready replica`, () => {
      const d = kubectlJson(['get', 'deployment', `herald-worker-${name}`]);
      return (d.status?.readyReplicas ?? 0) >= 1;
    }, { timeoutMs: 180_000 });
    info(`herald-worker-${name} is ready`);
  }

  step('2. events sent through the Ingress are accepted and routed by type');
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push({ userID: `user-${i}`, payload: { n: i, run: RUN, note: 'plain event' } });
  for (let i = 0; i < 2; i++) sent.push({ userID: `buyer-${i}`, type: 'order.created', payload: { order: `o-${RUN}-${i}`, total: 10 + i } });
  const events = [];
  for (const [i, event] of sent.entries()) {
    const res = await postEvent(event, `e2e-${RUN}-${i}`);
    // The answer counts the destinations the event was queued for; step 3 checks which ones.
    const want = event.type === 'order.created' ? all : ['e2e-all', 'e2e-failing'];
    if (res.destinations !== want.length) throw new Failure(`event ${i} (${event.type ?? 'no type'}) was queued for ${res.destinations} destinations, expected ${want.length} (${want})`);
    events.push({ ...event, id: res.id, destinations: want });
    info(`accepted ${res.id}, queued for ${want.join(', ')}`);
  }

  step('3. every event reaches the healthy receivers with the right body and webhook-id');
  const expected = events.flatMap((e) => e.destinations.filter((d) => healthy.includes(d)).map((d) => ({ e, path: d === 'e2e-all' ? '/ok/all' : '/ok/orders' })));
  const received = await waitFor(`${expected.length} deliveries at the receiver`, () => {
    const got = inCluster('http://127.0.0.1:8080/_received');
    const missing = expected.filter(({ e, path }) => !got.some((r) => r.path === path && r.headers['webhook-id'] === e.id));
    if (missing.length > 0) throw new Error(`missing: ${missing.map(({ e, path }) => `${e.id} at ${path}`).join(', ')}`);
    return got;
  });
  for (const { e, path } of expected) {
    const r = received.find((x) => x.path === path && x.headers['webhook-id'] === e.id);
    const body = JSON.parse(r.body);
    const want = { id: e.id, type: e.type ?? 'event', userID: e.userID, payload: e.payload };
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(body[k]) !== JSON.stringify(v)) throw new Failure(`delivery of ${e.id} to ${path}: body.${k} is ${JSON.stringify(body[k])}, expected ${JSON.stringify(v)}`);
    }
    if (!String(r.headers['content-type']).startsWith('application/json')) throw new Failure(`delivery of ${e.id} to ${path}: content-type ${r.headers['content-type']}`);
  }
  const strays = received.filter((r) => r.path === '/ok/orders' && !events.some((e) => e.type === 'order.created' && e.id === r.headers['webhook-id']));
  if (strays.length > 0) throw new Failure(`e2e-orders (filter order.*) received other events: ${strays.map((r) => r.headers['webhook-id']).join(', ')}`);
  info(`${expected.length} deliveries verified; e2e-orders got order.* events only`);

  step('4. every event to the failing receiver is dead-lettered');
  await waitFor(`status.delivery.deadLettered of e2e-failing to reach ${events.length}`, () => {
    const d = kubectlJson(['get', 'destination', 'e2e-failing']);
    const n = d.status?.delivery?.deadLettered ?? 0;
    if (n < events.length) throw new Error(`deadLettered=${n}; status: ${JSON.stringify(d.status ?? {})}`);
    return true;
  });
  const dlq = kubectl(['exec', 'deploy/herald-ingest', '--', 'herald', 'dlq', 'list', '--destination', 'e2e-failing', '--json']);
  const notListed = events.filter((e) => !dlq.includes(e.id));
  if (notListed.length > 0) throw new Failure(`herald dlq list does not show ${notListed.map((e) => e.id).join(', ')}:\n${dlq}`);
  info(`all ${events.length} events are in e2e-failing's dead letters`);

  step('5. one digest email about e2e-failing reaches the SMTP sink');
  const digestSubject = /^\[Herald\] e2e-failing: \d+ events? dead-lettered$/;
  const digests = () => inCluster('http://e2e-mailpit:8025/api/v1/messages').messages.filter((m) => digestSubject.test(m.Subject));
  const first = await waitFor('a dead-letter digest in Mailpit', () => digests()[0], { timeoutMs: 90_000 });
  if (!first.To.some((t) => t.Address === 'oncall@e2e.test')) throw new Failure(`digest went to ${JSON.stringify(first.To)}, expected oncall@e2e.test`);
  // Dead letters of one destination are batched (digestWindow 3s) and later digests held back
  // (suppress 10m): no second mail may arrive even after a few more windows.
  await delay(10_000);
  const count = digests().length;
  if (count !== 1) throw new Failure(`expected exactly one digest email, Mailpit has ${count}`);
  info(`"${first.Subject}" to oncall@e2e.test`);

  step('6. Destination status shows Ready and the figures');
  for (const name of healthy) {
    const want = events.filter((e) => e.destinations.includes(name)).length;
    await waitFor(`${name} Ready=True with delivered >= ${want}`, () => {
      const d = kubectlJson(['get', 'destination', name]);
      const ready = condition(d, 'Ready');
      const delivered = d.status?.delivery?.delivered ?? 0;
      if (ready?.status !== 'True' || delivered < want) throw new Error(`Ready=${ready?.status} (${ready?.reason}: ${ready?.message}), delivered=${delivered}`);
      return true;
    }, { timeoutMs: 60_000 });
    info(`${name}: Ready, delivered >= ${want}`);
  }
  info(kubectl(['get', 'destinations', '-o', 'wide']).trimEnd().split('\n').join('\n[verify]   '));

  step('7. deleting a Destination removes its workers');
  kubectl(['delete', 'destination', 'e2e-orders', '--wait=false']);
  await waitFor('Deployment herald-worker-e2e-orders and Destination e2e-orders to be gone', () => {
    const left = kubectl(['get', 'deployment/herald-worker-e2e-orders', 'destination/e2e-orders', '--ignore-not-found', '-o', 'name']).trim();
    if (left) throw new Error(`still there: ${left.split('\n').join(', ')}`);
    return true;
  }, { timeoutMs: 90_000 });
  info('e2e-orders and its worker Deployment are gone; the others remain');
  kubectl(['get', 'deployment', 'herald-worker-e2e-all']);

  console.log('\n[verify] PASS: all e2e assertions hold');
}

main().catch((err) => {
  console.error(`\n[verify] FAIL: ${err instanceof Failure ? err.message : err.stack ?? err}`);
  process.exit(1);
});
