import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';

/**
 * A tiny webhook receiver for `make dev`, so deliveries are visible with nothing else running:
 * `/ok/*` accepts, `/flaky/*` fails half the time with 503, `/fail/*` always answers 500,
 * `/gone/*` answers 410. It logs what it receives. `herald dev` binds its port before anything else.
 * `random` (uniform in [0, 1), default Math.random) decides the flaky answers.
 */
export function devReceiver(logger: Logger, opts: { random?: () => number } = {}): RequestListener {
  const random = opts.random ?? Math.random;
  const log = logger.child({ component: 'receiver' });
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      let status = 200;
      if (path.startsWith('/flaky')) status = random() < 0.5 ? 503 : 200;
      else if (path.startsWith('/fail')) status = 500;
      else if (path.startsWith('/gone')) status = 410;
      log.info({ path, status, eventId: req.headers['webhook-id'], bytes: Buffer.concat(chunks).length }, 'Receiver got a delivery');
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ received: status < 300 }));
    });
  };
}
