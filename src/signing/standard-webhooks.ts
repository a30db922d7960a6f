import { createHmac, randomBytes } from 'node:crypto';

/** Prefix of a serialised Standard Webhooks secret. */
export const SECRET_PREFIX = 'whsec_';

/** The spec's lower bound on key length; shorter keys are refused rather than silently weak. */
export const MIN_SECRET_BYTES = 24;

/** A signing secret that is not `whsec_<base64 of at least 24 bytes>`. The message never contains the secret. */
export class InvalidSigningSecretError extends Error {
  readonly code = 'HERALD_INVALID_SIGNING_SECRET';
  override readonly name = 'InvalidSigningSecretError';
}

/** A message cannot be signed: no active secret, or an id/timestamp the spec does not allow. */
export class SigningError extends Error {
  readonly code = 'HERALD_SIGNING';
  override readonly name = 'SigningError';
}

/** Input of {@link sign} and {@link signingHeaders}. */
export interface SignInput {
  /** The message id, sent as `webhook-id`; stable across retries so receivers can de-duplicate. */
  id: string;
  /** Unix time in whole seconds, sent as `webhook-timestamp`; receivers reject stale ones. */
  timestamp: number;
  /** The exact bytes that will be sent: signing a re-serialised body breaks verification. */
  body: string | Uint8Array;
  /** Every secret currently active (see SigningKeyring); each contributes one signature. */
  secrets: readonly string[];
}

/** The three Standard Webhooks request headers. */
export interface SigningHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Decodes `whsec_<base64>` into the HMAC key.
 * @throws InvalidSigningSecretError when the prefix is missing, the rest is not strict base64, or
 * the key is shorter than {@link MIN_SECRET_BYTES} (an empty string would otherwise be a valid, empty key).
 */
export function parseSecret(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new InvalidSigningSecretError(`Signing secret must start with "${SECRET_PREFIX}" (got ${secret.length} characters without it)`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') skips characters it does not know, so a mangled secret would decode to
  // some other key and every signature would silently fail to verify; check the alphabet first.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) {
    throw new InvalidSigningSecretError(`Signing secret after "${SECRET_PREFIX}" must be standard padded base64`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES) {
    throw new InvalidSigningSecretError(
      `Signing secret decodes to ${key.length} bytes; at least ${MIN_SECRET_BYTES} are required (generate one with generateSecret())`,
    );
  }
  return key;
}

/** A fresh secret: `whsec_` and 32 random bytes in base64. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * Computes the `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * for each secret, joined by spaces. Several signatures let receivers rotate keys: while both the old
 * and the new secret are active, a receiver holding either one verifies the message.
 * @throws SigningError when `secrets` is empty, `timestamp` is not a non-negative whole number of
 * seconds (milliseconds are a common mistake and are refused), or `id` is empty or contains control
 * characters (which cannot travel in a header).
 * @throws InvalidSigningSecretError for a malformed secret.
 */
export function sign(input: SignInput): string {
  if (input.secrets.length === 0) throw new SigningError('No active signing secret; at least one is required to sign');
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0 || input.timestamp > 1e11) {
    throw new SigningError(`webhook-timestamp must be whole Unix seconds, got ${input.timestamp}`);
  }
  if (input.id === '' || /[\x00-\x1f\x7f]/.test(input.id)) {
    throw new SigningError(`webhook-id must be non-empty and free of control characters, got ${JSON.stringify(input.id)}`);
  }
  const keys = input.secrets.map(parseSecret);
  const prefix = `${input.id}.${input.timestamp}.`;
  return keys
    .map((key) => `v1,${createHmac('sha256', key).update(prefix).update(input.body).digest('base64')}`)
    .join(' ');
}

/** The three headers to add to a delivery request; same rules and errors as {@link sign}. */
export function signingHeaders(input: SignInput): SigningHeaders {
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': sign(input),
  };
}
