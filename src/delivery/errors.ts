/** A failed attempt that will be retried after `delayMs`; the worker's backoff strategy reads the delay from here. */
export class RetryableDeliveryError extends Error {
  readonly code = 'HERALD_DELIVERY_RETRY';
  constructor(message: string, readonly delayMs: number) {
    super(message);
    withoutStack(this);
  }
}

/**
 * Replaces `err.stack` with its first line. BullMQ appends the stack of every failed attempt to the
 * job's hash in Redis, without a limit; for the errors the worker throws on purpose the stack always
 * names the same line of the worker, and the job log already holds each attempt's details.
 */
export function withoutStack<E extends Error>(err: E): E {
  err.stack = `${err.name}: ${err.message}`;
  return err;
}
