/**
 * Where ingest's write puts an event's body (ADR 0007, ADR 0010). Decided once per event, from plain
 * data, by {@link bodyLayout}; the write (ingest-service.ts) and its script's arguments
 * (write-script.ts) follow the decision and decide nothing themselves.
 *
 * - `none`: nothing is written: the event goes to no destination, or an Idempotency-Key's earlier
 *   attempt with it was completed.
 * - `inline`: one destination: the job carries the body, and the job is the event's only write.
 * - `shared`: several destinations: the body is stored once in the event hash, with a holder field
 *   per destination; the jobs carry the event id only.
 * - `resumed`: an Idempotency-Key's earlier attempt stopped before it was marked done, and this
 *   completes it. Shared whatever the routing: the earlier attempt may have queued jobs that read a
 *   stored body, so a body that is there is kept and every destination holds it. Per destination the
 *   script then drops the hold where the earlier attempt's job exists and carries its own body (that
 *   depends on what Redis holds, so the script decides it).
 */
export type BodyLayout = 'none' | 'inline' | 'shared' | 'resumed';

/** What an Idempotency-Key says of an earlier request: none (or no key), completed, or stopped before it was marked done. */
export type EarlierAttempt = 'none' | 'done' | 'unfinished';

/** The layout of an event routed to `destinations` destinations. */
export function bodyLayout(destinations: number, earlier: EarlierAttempt): BodyLayout {
  if (destinations === 0 || earlier === 'done') return 'none';
  if (earlier === 'unfinished') return 'resumed';
  return destinations === 1 ? 'inline' : 'shared';
}

/** The layouts that store a body in the event hash, and how the write script writes it. */
export type StoredBodyLayout = 'shared' | 'resumed';

/**
 * The write script's mode argument of a stored body: `s` sets the body and its holders, `r` keeps a
 * body that is there (HSETNX) and adds the holders.
 */
export const BODY_MODE_ARG: Readonly<Record<StoredBodyLayout, string>> = { shared: 's', resumed: 'r' };

/**
 * Whether the jobs of an event with `layout` carry its body. When one write queues two jobs with the
 * same event id for a destination (concurrent requests with one Idempotency-Key), the one that does
 * not carry it is kept: its body is stored and held, and only its job lets go of the hold.
 */
export function jobCarriesBody(layout: BodyLayout): boolean {
  return layout === 'inline';
}
