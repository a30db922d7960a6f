// Step 1: events sent through the Ingress reach every healthy receiver once per webhook-id, with
// the right body, routed by type; and one event through the chart's HTTPRoute (Gateway API) when
// the cluster serves one.
import { Failure, RUN, env, info, kubectlJson, received, step, waitFor } from '../lib/kube.mjs';
import { sendEvent } from '../lib/ingest.mjs';

/** Destinations applied by test/e2e/manifests/destinations.yaml, with the receiver path each delivers to. */
export const DESTINATIONS = {
  'e2e-all': { path: '/ok/all', types: null },
  'e2e-orders': { path: '/ok/orders', types: /^order\./ },
  'e2e-failing': { path: '/fail/partner', types: /^(order|partner)\./ },
  'e2e-slow': { path: '/slow/backlog', types: /^backlog\./ },
  'e2e-steady': { path: '/ok/steady', types: /^steady\./ },
};

/** Names of the destinations an event of `type` is routed to. */
export function routedTo(type) {
  return Object.entries(DESTINATIONS)
    .filter(([, d]) => d.types === null || (type !== undefined && d.types.test(type)))
    .map(([name]) => name);
}

export async function workersReady() {
  step('1a. the controller runs a Ready worker Deployment per Destination');
  for (const name of Object.keys(DESTINATIONS)) {
    await waitFor(`Deployment herald-worker-${name} with a ready replica`, () => {
      const d = kubectlJson(['get', 'deployment', `herald-worker-${name}`]);
      return (d.status?.readyReplicas ?? 0) >= 1;
    }, { timeoutMs: 240_000, intervalMs: 2_000 });
    info(`herald-worker-${name} is ready`);
  }
}

/**
 * Sends plain and order.created events through the Ingress (and one through the Gateway), checks
 * the fan-out count ingest answers, then waits for every delivery to the healthy receivers and
 * checks body, headers and that each webhook-id arrived exactly once per path.
 * @returns the accepted events, for the dead-letter step
 */
export async function deliveryAndRouting() {
  step('1b. events sent through the Ingress are accepted and routed by type');
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push({ event: { userID: `user-${i}`, payload: { n: i, run: RUN, note: 'plain event' } }, via: 'ingress' });
  for (let i = 0; i < 2; i++) sent.push({ event: { userID: `buyer-${i}`, type: 'order.created', payload: { order: `o-${RUN}-${i}`, total: 10 + i } }, via: 'ingress' });
  if (env.gatewayUrl) sent.push({ event: { userID: 'gw-user', type: 'order.created', payload: { order: `gw-${RUN}`, via: 'gateway' } }, via: 'gateway' });
  else info('no Gateway in this cluster (E2E_GATEWAY_URL empty): the HTTPRoute is not exercised');

  const events = [];
  for (const [i, { event, via }] of sent.entries()) {
    const url = via === 'gateway' ? env.gatewayUrl : env.ingestUrl;
    const res = await sendEvent(event, `e2e-${RUN}-${i}`, { url });
    const want = routedTo(event.type);
    if (res.destinations !== want.length) throw new Failure(`event ${i} (${event.type ?? 'no type'}) was queued for ${res.destinations} destinations, expected ${want.length} (${want.join(', ')})`);
    events.push({ ...event, id: res.id, destinations: want, via });
    info(`accepted ${res.id} via ${via}, queued for ${want.join(', ')}`);
  }

  step('1c. every event reaches the healthy receivers once, with the right body and webhook-id');
  const healthy = ['e2e-all', 'e2e-orders'];
  const expected = events.flatMap((e) => e.destinations.filter((d) => healthy.includes(d)).map((d) => ({ e, path: DESTINATIONS[d].path })));
  const got = await waitFor(`${expected.length} deliveries at the receiver`, async () => {
    const all = await received('/ok/');
    const missing = expected.filter(({ e, path }) => !all.some((r) => r.path === path && r.headers['webhook-id'] === e.id));
    if (missing.length > 0) throw new Error(`missing: ${missing.map(({ e, path }) => `${e.id} at ${path}`).join(', ')}`);
    return all;
  });
  for (const { e, path } of expected) {
    const copies = got.filter((x) => x.path === path && x.headers['webhook-id'] === e.id);
    if (copies.length !== 1) throw new Failure(`${e.id} reached ${path} ${copies.length} times, expected once`);
    const r = copies[0];
    const body = JSON.parse(r.body);
    const want = { id: e.id, type: e.type ?? 'event', userID: e.userID, payload: e.payload };
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(body[k]) !== JSON.stringify(v)) throw new Failure(`delivery of ${e.id} to ${path}: body.${k} is ${JSON.stringify(body[k])}, expected ${JSON.stringify(v)}`);
    }
    if (!String(r.headers['content-type']).startsWith('application/json')) throw new Failure(`delivery of ${e.id} to ${path}: content-type ${r.headers['content-type']}`);
    if (!/^Herald\//.test(String(r.headers['user-agent']))) throw new Failure(`delivery of ${e.id} to ${path}: user-agent ${r.headers['user-agent']}`);
    if (!/^\d+$/.test(String(r.headers['webhook-timestamp']))) throw new Failure(`delivery of ${e.id} to ${path}: webhook-timestamp ${r.headers['webhook-timestamp']}`);
  }
  const ours = new Set(events.map((e) => e.id));
  const strays = got.filter((r) => r.path === DESTINATIONS['e2e-orders'].path && ours.has(r.headers['webhook-id']) && !events.some((e) => e.type === 'order.created' && e.id === r.headers['webhook-id']));
  if (strays.length > 0) throw new Failure(`e2e-orders (filter order.*) received other events: ${strays.map((r) => r.headers['webhook-id']).join(', ')}`);
  info(`${expected.length} deliveries verified, each once; e2e-orders got order.* events only${env.gatewayUrl ? '; the Gateway route delivered too' : ''}`);
  return events;
}
