// Step 5: `kubectl get dest` shows Ready and the delivery figures; deleting a Destination removes
// its worker Deployment and its scaler (the ScaledObject, and with it KEDA's HPA).
import { Failure, info, kubectl, kubectlJson, step, waitFor } from '../lib/kube.mjs';
import { parseTable } from '../lib/table.mjs';

/**
 * @param {Record<string, number>} minDelivered destination name → deliveries it must show at least
 */
export async function statusColumns(minDelivered) {
  step('5a. kubectl get dest shows Ready and the figures');
  const rows = await waitFor(`Ready=True and the delivered figures in kubectl get dest`, () => {
    // -o wide: FAILED (dead letters since creation) is a wide column; DEAD (in the store now) and
    // HEALTH are default ones.
    const table = parseTable(kubectl(['get', 'destinations', '-o', 'wide']));
    const bad = [];
    for (const [name, want] of Object.entries(minDelivered)) {
      const row = table.find((r) => r.name === name);
      if (!row) bad.push(`${name}: no row`);
      else if (row.ready !== 'True' || !(Number(row.delivered) >= want)) bad.push(`${name}: READY=${row.ready} DELIVERED=${row.delivered} (want True, >= ${want})`);
    }
    const failing = table.find((r) => r.name === 'e2e-failing');
    if (!failing || !(Number(failing.failed) >= 1)) bad.push(`e2e-failing: FAILED=${failing?.failed} (want >= 1)`);
    if (bad.length > 0) throw new Error(bad.join('; '));
    return table;
  }, { timeoutMs: 60_000, intervalMs: 2_000 });
  for (const col of ['url', 'ready', 'reason', 'health', 'workers', 'backlog', 'dead', 'delivered', 'failed', 'age']) {
    if (!(col in rows[0])) throw new Failure(`kubectl get dest has no ${col.toUpperCase()} column: ${Object.keys(rows[0]).join(', ')}`);
  }
  info(kubectl(['get', 'destinations', '-o', 'wide']).trimEnd().split('\n').join('\n[verify]     '));
}

/** Deletes `name` and waits until it, its worker Deployment and its scaler (if `scaled`) are gone. */
export async function deletion(name, { scaled = false } = {}) {
  step(`5b. deleting Destination ${name} removes its workers${scaled ? ' and its scaler' : ''}`);
  const deployment = `herald-worker-${name}`;
  const objects = [`deployment/${deployment}`, `destination/${name}`];
  let hpa;
  if (scaled) {
    const so = kubectlJson(['get', 'scaledobject', deployment]);
    hpa = so.status?.hpaName ?? `keda-hpa-${deployment}`;
    kubectl(['get', 'hpa', hpa]);
    objects.push(`scaledobject/${deployment}`, `hpa/${hpa}`);
  }
  kubectl(['delete', 'destination', name, '--wait=false']);
  await waitFor(`${objects.join(', ')} to be gone`, () => {
    const left = kubectl(['get', ...objects, '--ignore-not-found', '-o', 'name']).trim();
    if (left) throw new Error(`still there: ${left.split('\n').join(', ')}`);
    return true;
  }, { timeoutMs: 120_000, intervalMs: 2_000 });
  const pods = kubectl(['get', 'pods', '-l', `herald.dev/destination=${name}`, '-o', 'name']).trim();
  await waitFor(`the worker pods of ${name} to be gone`, () => kubectl(['get', 'pods', '-l', `herald.dev/destination=${name}`, '-o', 'name']).trim() === '', { timeoutMs: 90_000, intervalMs: 2_000 });
  info(`${objects.join(', ')} and the worker pods${pods ? ` (${pods.split('\n').length})` : ''} are gone`);
}
