// Prometheus' HTTP API, queried from inside the cluster (lib/kube.mjs inCluster).
import { env, inCluster, inClusterMany } from './kube.mjs';

/** An instant query; resolves the `data` of the answer ({resultType, result}). */
export async function query(promql) {
  const r = await inCluster(`${env.prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  if (r.status !== 'success') throw new Error(`query ${promql}: ${r.error ?? JSON.stringify(r)}`);
  return r.data;
}

/** Several instant queries in one round trip; resolves the `data` of each, in order. */
export async function queryMany(exprs) {
  const answers = await inClusterMany(exprs.map((q) => `${env.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`));
  return answers.map((r, i) => {
    if (r.status !== 'success') throw new Error(`query ${exprs[i]}: ${r.error ?? JSON.stringify(r)}`);
    return r.data;
  });
}

/** Values of `label` on the series of `metric` (what Grafana's label_values() shows). */
export async function labelValues(metric, label) {
  const r = await inCluster(`${env.prometheusUrl}/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(metric)}`);
  return r.data ?? [];
}

/** Alerts Prometheus evaluates right now ({labels, state, activeAt}). */
export async function alerts() {
  const r = await inCluster(`${env.prometheusUrl}/api/v1/alerts`);
  return r.data?.alerts ?? [];
}

/** Alerts Alertmanager holds (v2 API: [{labels, status: {state}}]). */
export async function alertmanagerAlerts() {
  return inCluster(`${env.alertmanagerUrl}/api/v2/alerts`);
}
