// Assertions of `make e2e`, run by test/e2e/run.sh once the kind cluster, the add-ons (Traefik,
// KEDA, Prometheus, Alertmanager), the chart, the receiver, the SMTP sink and the Destinations are in
// place. Plain Node (no build step, no dependencies): it drives the cluster with kubectl and helm,
// sends events through the Ingress with fetch, and reads Prometheus, Alertmanager, the SMTP sink
// and the receiver from inside the cluster. Each step waits on conditions with deadlines, never on
// sleeps; the steps live in test/e2e/steps/, the shared I/O and pure helpers in test/e2e/lib/.
//
//   1. every Destination gets a Ready worker Deployment; events through the Ingress (and the
//      Gateway's HTTPRoute when there is one) reach each healthy receiver once, with the right body
//      and webhook-id, routed by type;
//   2. the failing receiver's events are dead-lettered (status, `herald dlq list`), exactly one
//      digest email arrives, and HeraldDeadLettersIncreasing fires and is mailed by Alertmanager;
//   3. a backlog makes KEDA scale a worker Deployment out and back in (replica counts observed);
//   4. Prometheus has herald_ series from ingest, the controller and every worker pod, and every
//      panel query of the shipped Grafana dashboards returns data;
//   5. `kubectl get dest` shows Ready and the figures; deleting a Destination removes its workers
//      and its scaler;
//   6. under a steady load: a leader hand-over, a force-deleted worker and a rolling `helm upgrade`
//      of ingest lose no accepted event and answer no 5xx but 503.
// Exit code 0 when all hold; otherwise 1 with what was expected and what was seen.
// E2E_STEPS=1,2,... runs only some steps (for working on one against a kept cluster); 2a is step 2
// without the Prometheus alert.
import { Failure, info } from './lib/kube.mjs';
import { formatTally } from './lib/tally.mjs';
import { deliveryAndRouting, workersReady } from './steps/delivery.mjs';
import { deadLetterAlert, deadLettersAndDigest, startDeadLetterTrickle } from './steps/dead-letters.mjs';
import { autoscaling } from './steps/autoscaling.mjs';
import { dashboardQueries, scrapedSeries } from './steps/metrics.mjs';
import { deletion, statusColumns } from './steps/status.mjs';
import { resilience } from './steps/resilience.mjs';

const only = new Set((process.env.E2E_STEPS ?? '1,2,3,4,5,6').split(',').map((s) => s.trim()));
const timings = [];

async function timed(name, fn) {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  }
}

async function main() {
  let events = [];
  let tally;
  if (only.has('1')) await timed('workers', workersReady);
  if (only.has('1') || only.has('2') || only.has('2a') || only.has('5')) events = await timed('1 delivery', deliveryAndRouting);
  let trickle;
  if (only.has('2a')) await timed('2 dead letters', () => deadLettersAndDigest(events));
  if (only.has('2')) {
    await timed('2 dead letters', () => deadLettersAndDigest(events));
    // The alert needs dead letters over two scrapes and its `for:`; it ripens while step 3 runs.
    trickle = startDeadLetterTrickle();
  }
  try {
    if (only.has('3')) await timed('3 autoscaling', autoscaling);
  } catch (err) {
    await trickle?.stop().catch(() => undefined);
    throw err;
  }
  if (trickle) await timed('2 alert', () => deadLetterAlert(trickle));
  if (only.has('4')) {
    await timed('4 series', scrapedSeries);
    await timed('4 dashboards', () => dashboardQueries());
  }
  if (only.has('5')) {
    const want = (name) => events.filter((e) => e.destinations.includes(name)).length;
    await timed('5 status', () => statusColumns({ 'e2e-all': want('e2e-all'), 'e2e-orders': want('e2e-orders') }));
    await timed('5 deletion', async () => {
      await deletion('e2e-orders');
      if (only.has('3')) await deletion('e2e-slow', { scaled: true });
    });
  }
  if (only.has('6')) tally = await timed('6 resilience', resilience);
  console.log(`\n[verify] step times: ${timings.join(', ')}`);
  if (tally) console.log(`[verify] step 6 counts: ${formatTally(tally)}`);
  console.log('[verify] PASS: all e2e assertions hold');
}

main().catch((err) => {
  if (timings.length) info(`step times: ${timings.join(', ')}`);
  console.error(`\n[verify] FAIL: ${err instanceof Failure ? err.message : err.stack ?? err}`);
  process.exit(1);
});
