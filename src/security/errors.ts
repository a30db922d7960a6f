/**
 * A delivery was refused because the destination resolves to an address the SSRF policy forbids.
 * Terminal for the attempt: retrying reaches the same address unless DNS or the policy changes.
 * The message names host, address and reason so an operator can decide whether to add an allow entry.
 */
export class BlockedAddressError extends Error {
  readonly code = 'HERALD_SSRF_BLOCKED';
  override readonly name = 'BlockedAddressError';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(
      `Refused to connect to ${host}` +
        (host === address ? '' : ` (resolved to ${address})`) +
        `: ${reason}. If this destination is meant to be internal, add its address to the delivery allow list.`,
    );
  }
}

/** Configuration named an IP range that does not parse; `problems` lists every bad entry. */
export class InvalidCidrError extends Error {
  readonly code = 'HERALD_INVALID_CIDR';
  override readonly name = 'InvalidCidrError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid IP ranges: ${problems.join('; ')}`);
  }
}

/**
 * The total delivery deadline passed while the receiver was still sending (or had not answered).
 * Retryable: a slow receiver may be fast next time. `cause` carries the signal's reason.
 */
export class DeliveryTimeoutError extends Error {
  readonly code = 'HERALD_DELIVERY_TIMEOUT';
  override readonly name = 'DeliveryTimeoutError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Reading the receiver's response failed for a reason other than the deadline (reset, protocol error). */
export class ResponseBodyError extends Error {
  readonly code = 'HERALD_RESPONSE_BODY';
  override readonly name = 'ResponseBodyError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
