import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { loadControllerConfig } from '../config/controller.js';
import { startController } from '../controller/controller.js';
import { RedisRuntime } from '../redis/redis-runtime.js';
import { createOpsApp } from '../server/ops-routes.js';
import { closeServer, listen } from '../server/listen.js';
import { bootstrap, type Env } from './common.js';
import { deliveryAddressPolicy } from '../security/delivery-policy.js';

export const controllerHelp = `Usage: herald controller [--port N]

Turns Destination custom resources (herald.dev/v1alpha1) into worker Deployments, publishes the
active destination set for ingest, runs each Destination's deletion policy, and reports delivery
health from Redis on the Destination's status. Several replicas may run: a Lease elects one leader.
Serves /healthz, /readyz and /metrics (queue gauges for every destination, while leader).

Options:
  --port N    ops port (default $HERALD_HTTP_PORT or 8080)

Environment: REDIS_URL, HERALD_WORKER_IMAGE (required), HERALD_WORKER_CONFIGMAP, HERALD_WORKER_SECRET,
HERALD_WATCH_NAMESPACE, POD_NAMESPACE, POD_NAME, HERALD_LEASE_NAME, HERALD_AUTOSCALER (keda|hpa|none),
HERALD_PROMETHEUS_URL (required with keda); see docs/configuration.md.
Kubernetes access: in-cluster service account, or $KUBECONFIG.`;

export async function runController(argv: string[], env: Env): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' } }, strict: true });
  const ctx = bootstrap('controller', env, values.port ? { HERALD_HTTP_PORT: values.port } : {});
  const controllerConfig = loadControllerConfig(env);
  ctx.shutdown.listen();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const rt = await RedisRuntime.open(ctx.config, ctx.logger, ctx.registry, 'controller');
  const controller = startController({
    kubeConfig,
    redis: rt.redis,
    keys: rt.keys,
    logger: ctx.logger,
    registry: ctx.registry,
    config: controllerConfig,
    addressPolicy: deliveryAddressPolicy(ctx.config),
  });
  const server = await listen(
    createOpsApp({ registry: ctx.registry, readiness: [rt.readiness(), ...controller.readiness], isShuttingDown: () => ctx.shutdown.shuttingDown }),
    ctx.config.HERALD_HTTP_PORT,
    ctx.config.HERALD_HTTP_HOST,
  );
  // Finish the reconcile in flight and hand the Lease over first, so a successor takes over at once.
  ctx.shutdown.add({ name: 'controller', close: () => controller.close() });
  ctx.shutdown.add({ name: 'ops-server', close: () => closeServer(server) });
  ctx.shutdown.add({ name: 'redis', close: () => rt.close() });
}
