import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';

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
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req: Request, res: Response) => {
    if (opts.isShuttingDown?.()) {
      res.status(503).json({ status: 'shutting down' });
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
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks: results });
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
