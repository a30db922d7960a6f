// Step 3: a backlog on e2e-slow (a receiver taking a second per delivery) makes KEDA scale its
// worker Deployment out, and back in once the backlog has drained. Replica counts are read from the
// Deployment and the HPA KEDA made for the ScaledObject, never inferred from timing.
import { Failure, RUN, info, kubectlJson, kubectlJsonAsync, received, step, waitFor } from '../lib/kube.mjs';
import { sendBatch } from '../lib/ingest.mjs';

const DEPLOYMENT = 'herald-worker-e2e-slow';
const EVENTS = 240;

async function replicas() {
  const d = await kubectlJsonAsync(['get', 'deployment', DEPLOYMENT]);
  return { spec: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 };
}

export async function autoscaling() {
  step('3. a backlog on e2e-slow makes KEDA scale its workers out, and in again once drained');
  const so = await waitFor(`ScaledObject ${DEPLOYMENT} Ready`, () => {
    const s = kubectlJson(['get', 'scaledobject', DEPLOYMENT]);
    const ready = (s.status?.conditions ?? []).find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') throw new Error(`Ready=${ready?.status} ${ready?.reason ?? ''}: ${ready?.message ?? ''}`);
    return s;
  }, { timeoutMs: 120_000, intervalMs: 2_000 });
  const { minReplicaCount: min, maxReplicaCount: max } = so.spec;
  const hpaName = so.status?.hpaName ?? `keda-hpa-${DEPLOYMENT}`;
  info(`ScaledObject ${DEPLOYMENT}: min ${min}, max ${max}, query ${so.spec.triggers[0].metadata.query}, HPA ${hpaName}`);
  const before = await replicas();
  if (before.spec !== min) throw new Failure(`${DEPLOYMENT} runs ${before.spec} replicas before the backlog, expected minReplicas ${min}`);

  const batch = Array.from({ length: EVENTS }, (_, i) => ({ userID: 'bulk', type: 'backlog.item', payload: { i, run: RUN } }));
  const t0 = Date.now();
  const answer = await sendBatch(batch);
  const ids = (answer.results ?? answer).map((r) => r.id).filter(Boolean);
  if (ids.length !== EVENTS) throw new Failure(`batch of ${EVENTS} backlog.item events: ${ids.length} accepted (${JSON.stringify(answer).slice(0, 300)})`);
  info(`${EVENTS} backlog.item events accepted in one batch`);

  let peak = before.spec;
  const out = await waitFor(`${DEPLOYMENT} scaled out beyond ${min} replica(s)`, async () => {
    const r = await replicas();
    peak = Math.max(peak, r.spec);
    if (r.spec > min) return r;
    const hpa = await kubectlJsonAsync(['get', 'hpa', hpaName]).catch((e) => ({ status: String(e) }));
    throw new Error(`replicas=${r.spec}; HPA: ${JSON.stringify(hpa.status)}`);
  }, { timeoutMs: 150_000, intervalMs: 2_000 });
  info(`scaled out to ${out.spec} replicas ${((Date.now() - t0) / 1000).toFixed(0)}s after the batch`);

  await waitFor(`every backlog.item delivered to /slow/backlog`, async () => {
    const r = await replicas();
    peak = Math.max(peak, r.spec);
    const got = new Set((await received('/slow/backlog')).map((x) => x.headers['webhook-id']));
    const missing = ids.filter((id) => !got.has(id)).length;
    if (missing > 0) throw new Error(`${missing} of ${EVENTS} not delivered yet; replicas=${r.spec} ready=${r.ready}`);
    return true;
  }, { timeoutMs: 300_000, intervalMs: 3_000 });
  info(`backlog drained ${((Date.now() - t0) / 1000).toFixed(0)}s after the batch; peak ${peak} replicas`);

  const back = await waitFor(`${DEPLOYMENT} scaled back in to ${min} replica(s)`, async () => {
    const r = await replicas();
    if (r.spec === min) return r;
    throw new Error(`replicas=${r.spec}`);
  }, { timeoutMs: 240_000, intervalMs: 3_000 });
  info(`scaled back in to ${back.spec} replica(s) ${((Date.now() - t0) / 1000).toFixed(0)}s after the batch (peak ${peak}, max ${max})`);
  return { peak };
}
