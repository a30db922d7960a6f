// Step 4: Prometheus scrapes herald_ series from ingest, the controller and every worker pod, and
// every panel query of the shipped Grafana dashboards returns data against it. Grafana itself is not
// run: it cannot be built offline within reason (its frontend needs a yarn/webpack build from the
// npm registry on top of a Go build), and what a panel shows is exactly its query's answer.
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Failure, env, info, kubectlJsonAsync, step, waitFor } from '../lib/kube.mjs';
import { hasData, needsKubeStateMetrics, panelQueries, substituteVariables, templateVariables, unresolvedVariables } from '../lib/dashboards.mjs';
import { labelValues, query, queryMany } from '../lib/prometheus.mjs';

/** The label a scraped series names its pod by (the scrape config decides), and the pod IP as a fallback. */
function seriesPod(labels) {
  return labels.pod ?? labels.kubernetes_pod_name ?? labels.pod_name ?? '';
}

/** Ready Herald process pods (ingest, controller, worker; not the in-chart Redis), as `kubectl get pods` sees them. */
async function heraldPods() {
  const list = await kubectlJsonAsync(['get', 'pods', '-l', 'app.kubernetes.io/name=herald,app.kubernetes.io/component in (ingest,controller,worker)']);
  return list.items
    .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp && (p.status.containerStatuses ?? []).every((c) => c.ready))
    .map((p) => ({ name: p.metadata.name, ip: p.status.podIP, component: p.metadata.labels['app.kubernetes.io/component'] }));
}

export async function scrapedSeries() {
  step('4a. Prometheus has herald_ series from ingest, the controller and every worker pod');
  const seen = await waitFor('herald_build_info from every ready Herald pod', async () => {
    const pods = await heraldPods();
    const series = (await query('herald_build_info')).result.map((s) => s.metric);
    const missing = pods.filter((p) => !series.some((m) => seriesPod(m) === p.name || String(m.instance ?? '').split(':')[0] === p.ip));
    const components = new Set(pods.map((p) => p.component));
    for (const c of ['ingest', 'controller', 'worker']) if (!components.has(c)) throw new Error(`no ready ${c} pod`);
    if (missing.length > 0) throw new Error(`not scraped yet: ${missing.map((p) => `${p.name} (${p.ip})`).join(', ')}; series: ${JSON.stringify(series).slice(0, 800)}`);
    return { pods, series };
  }, { timeoutMs: 120_000, intervalMs: 3_000 });
  const byComponent = {};
  for (const p of seen.pods) (byComponent[p.component] ??= []).push(p.name);
  for (const [c, names] of Object.entries(byComponent)) info(`${c}: ${names.length} pod(s) scraped (${names.join(', ')})`);
  // Each process reports its own component: the pods above must show all three Herald roles.
  const roles = new Set(seen.series.map((m) => m.component));
  for (const c of ['ingest', 'controller', 'worker']) if (!roles.has(c)) throw new Failure(`no herald_build_info{component="${c}"} series: ${[...roles].join(', ')}`);
  const names = (await query('count by (__name__) ({__name__=~"herald_.+"})')).result.map((s) => s.metric.__name__);
  info(`${names.length} herald_ metric names in Prometheus`);
}

/**
 * Runs every panel query of every dashboard; a panel with a template variable passes when it
 * returns data for at least one of the variable's values (a per-destination panel such as "Dead
 * letters by reason" has data for the failing destination only, latency panels for healthy ones).
 * Panels without data are tried again until one deadline for all of them (a rate needs two scrapes).
 */
export async function dashboardQueries({ timeoutMs = 90_000 } = {}) {
  step('4b. every panel query of the shipped Grafana dashboards returns data from Prometheus');
  let pending = [];
  for (const file of env.dashboards) {
    const dashboard = JSON.parse(readFileSync(file, 'utf8'));
    // Each query variable must have values in Prometheus; a panel is then run with "All" chosen
    // (what a dashboard opens with) where the variable offers it, else with each value in turn.
    let combos = [{}];
    for (const v of templateVariables(dashboard).filter((x) => x.type === 'query')) {
      if (!v.labelValues) throw new Failure(`${file}: variable ${v.name} is not label_values(metric, label); teach lib/dashboards.mjs its form`);
      const metric = substituteVariables(v.labelValues.metric, combos[0]);
      const values = await labelValues(metric, v.labelValues.label);
      if (values.length === 0) throw new Failure(`${file}: variable ${v.name} (label_values(${metric}, ${v.labelValues.label})) has no values`);
      const chosen = v.allValue !== undefined ? [v.allValue] : values;
      combos = combos.flatMap((c) => chosen.map((x) => ({ ...c, [v.name]: x })));
    }
    for (const q of panelQueries(dashboard)) {
      for (const vars of combos) {
        const left = unresolvedVariables(substituteVariables(q.expr, vars));
        if (left.length > 0) throw new Failure(`${q.dashboard} / ${q.panel}: unknown variables ${left.join(', ')} in ${q.expr}`);
      }
      pending.push({ ...q, combos });
    }
  }
  // Panels on kube-state-metrics series (worker replicas) have data only where it runs.
  const ksm = hasData(await query('count({__name__=~"kube_deployment_.+"})'));
  const skipped = ksm ? [] : pending.filter((q) => needsKubeStateMetrics(q.expr));
  pending = pending.filter((q) => !skipped.includes(q));
  for (const q of skipped) info(`not checked (needs kube-state-metrics, which this cluster does not run): ${q.dashboard} / ${q.panel}: ${q.expr}`);
  const total = pending.length;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Every (panel, variable values) pair in one round trip.
    const tries = pending.flatMap((q) => q.combos.map((vars) => ({ q, vars, expr: substituteVariables(q.expr, vars) })));
    const answers = await queryMany(tries.map((t) => t.expr));
    const still = [];
    for (const q of pending) {
      const ok = tries.find((t, i) => t.q === q && hasData(answers[i]));
      if (ok) info(`data: ${q.dashboard} / ${q.panel} (${q.refId})${Object.keys(ok.vars).length ? ` with ${JSON.stringify(ok.vars)}` : ''}`);
      else still.push(q);
    }
    pending = still;
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      throw new Failure(`${pending.length} of ${total} panel queries return no data:\n  ${pending.map((q) => `${q.dashboard} / ${q.panel} (${q.refId}): ${q.expr}`).join('\n  ')}`);
    }
    await delay(5_000);
  }
  info(`all ${total} panel queries on Herald's metrics return data${skipped.length ? `; ${skipped.length} on kube-state-metrics not checked` : ''}`);
  return { checked: total, skipped: skipped.length };
}
