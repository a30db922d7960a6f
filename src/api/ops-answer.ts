import { z } from 'zod';

/** `GET /healthz`: the process is alive. */
export const Health = z.object({ status: z.literal('ok') });
export type Health = z.infer<typeof Health>;

/** One readiness check (Redis reachable and not evicting, durability as configured, …). */
export const ReadinessCheckResult = z.object({
  name: z.string(),
  ok: z.boolean(),
  error: z.string().optional().describe('why the check failed'),
});

/** `GET /readyz` answered 200. */
export const Ready = z.object({ status: z.literal('ready'), checks: z.array(ReadinessCheckResult) });
/** `GET /readyz` answered 503: a check failed, or the process is shutting down. */
export const NotReady = z.union([
  z.object({ status: z.literal('not ready'), checks: z.array(ReadinessCheckResult) }),
  z.object({ status: z.literal('shutting down') }),
]);
export type Readiness = z.infer<typeof Ready> | z.infer<typeof NotReady>;
