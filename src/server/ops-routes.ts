import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Health, Readiness } from '../api/ops-answer.js';

export interface ReadinessCheck {
  name: string;
  /** Resolves when healthy; rejects (or throws) with a reason when not. */
  check: () => Promise<void>;
}

/**
 * `/healthz` (the process is alive), `/readyz` (its dependencies answer), `/metrics` (Prometheus),
 * shared by every Herald process so probes and scrapes look the same everywhere.
 */
export function addOpsRoutes(app: Express, opts: { registry: Registry; readiness: ReadinessCheck[]; isShuttingDown?: () => boolean }): void {
  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' } satisfies Health);
  });
  app.get('/readyz', async (_req: Request, res: Response) => {
    if (opts.isShuttingDown?.()) {
      res.status(503).json({ status: 'shutting down' } satisfies Readiness);
      return;
    }
    const results = await Promise.all(
      opts.readiness.map(async (r) => {
        try {
          await withTimeout(r.check(), 2000);
          return { name: r.name, ok: true };
        } catch (err) {
          return { name: r.name, ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    res.status(ok ? 200 : 503).json((ok ? { status: 'ready', checks: results } : { status: 'not ready', checks: results }) satisfies Readiness);
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.set('content-type', opts.registry.contentType);
    res.send(await opts.registry.metrics());
  });
}

/** A bare express app with only the ops routes, for processes that serve nothing else (workers, controller). */
export function createOpsApp(opts: Parameters<typeof addOpsRoutes>[1]): Express {
  const app = express();
  app.disable('x-powered-by');
  addOpsRoutes(app, opts);
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
