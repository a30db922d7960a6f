import type { Logger } from '../log/logger.js';
import type { ControllerMetrics } from '../metrics/metrics.js';
import { LeadershipLostError } from './errors.js';
import { isConflict } from './kube-rest.js';
import type { ReconcileResult } from './reconcile-deps.js';
import { jittered, type WorkQueue } from './workqueue.js';

export interface WorkLoopDeps {
  queue: Pick<WorkQueue, 'get' | 'forget' | 'addAfter' | 'addRateLimited' | 'done'>;
  reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult>;
  /** Aborted when the term ends: a reconcile failing after that is abandoned, not retried. */
  signal: AbortSignal;
  /** Uniform in [0, 1): spreads status-refresh requeues (see `jittered`). */
  random: () => number;
  metrics: Pick<ControllerMetrics, 'reconciles' | 'duration'>;
  logger: Logger;
}

/**
 * One reconcile worker: takes keys from the queue until it shuts down, reconciles each, and decides
 * what comes next for the key: a jittered requeue when the reconciler asks for one, a rate-limited
 * retry after a conflict (our cache was stale; normal) or a failure, nothing after leadership loss.
 */
export async function runWorkLoop(deps: WorkLoopDeps): Promise<void> {
  const { queue, signal, metrics, logger } = deps;
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    const stopTimer = metrics.duration.startTimer();
    try {
      const r = await deps.reconcile(key, signal);
      queue.forget(key);
      metrics.reconciles.inc({ result: r.result });
      if (r.requeueAfterMs > 0) queue.addAfter(key, jittered(r.requeueAfterMs, deps.random));
    } catch (err) {
      if (err instanceof LeadershipLostError || signal.aborted) {
        logger.debug({ key }, 'Abandoned reconcile after losing leadership');
      } else if (isConflict(err)) {
        metrics.reconciles.inc({ result: 'requeue' });
        queue.addRateLimited(key);
        logger.debug({ key }, 'Conflict; requeued');
      } else {
        metrics.reconciles.inc({ result: 'error' });
        const retryInMs = queue.addRateLimited(key);
        logger.error({ key, err, retryInMs }, 'Reconcile failed');
      }
    } finally {
      stopTimer();
      queue.done(key);
    }
  }
}
