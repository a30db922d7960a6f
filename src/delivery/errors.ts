/** A failed attempt that will be retried after `delayMs`; the worker's backoff strategy reads the delay from here. */
export class RetryableDeliveryError extends Error {
  readonly code = 'HERALD_DELIVERY_RETRY';
  constructor(message: string, readonly delayMs: number) {
    super(message);
  }
}
