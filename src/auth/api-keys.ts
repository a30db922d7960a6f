import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { globToRegExp } from '../api/destination.js';
import type { ErrorCode } from '../api/error-answer.js';
import { ApiKeyFileError, type ApiKeyEntry, type ApiKeyRateLimit } from './api-key-file.js';

/** Who sent an ingest request, as established by {@link ApiKeyAuthenticator}. */
export interface Principal {
  /** Producer or tenant name from the key file; use it as the rate-limit key and log field. */
  name: string;
  /** The configured type globs, or `undefined` when every type is allowed. */
  types: readonly string[] | undefined;
  /** Whether this principal may send events of `type`. */
  allowsType: (type: string) => boolean;
  rateLimit: ApiKeyRateLimit | undefined;
}

/** The error body of a refused request, in the shape the HTTP API returns. */
export interface AuthError {
  code: string;
  message: string;
}

/** Outcome of {@link ApiKeyAuthenticator.authenticate}. On failure send `wwwAuthenticate` as `WWW-Authenticate`. */
export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401; error: AuthError & { code: ErrorCode<401> }; wwwAuthenticate: string };

/** Outcome of {@link authorizeType}. */
export type AuthzResult = { ok: true } | { ok: false; status: 403; error: AuthError };

const KEY_PREFIX = 'hk_';
const WWW_AUTHENTICATE = 'Bearer realm="herald"';
// Far above a generated key (46 characters); refuses absurd headers before hashing them.
const MAX_KEY_LENGTH = 512;

/**
 * Digest of an API key as stored in the key file: `sha256:<hex>`. A plain SHA-256 is enough because
 * keys come from {@link generateApiKey} with 256 bits of randomness: a slow, salted KDF (bcrypt,
 * argon2) exists to make guessing low-entropy passwords expensive, but guessing among 2^256 keys is
 * out of reach at any hash speed. A slow KDF would instead cost CPU on every ingest request, and a
 * salt would stop us finding the key by its digest.
 */
export function hashApiKey(key: string): string {
  return `sha256:${hash('sha256', key, 'hex')}`;
}

/**
 * A new API key: `hk_` and 32 random bytes in base64url. The prefix lets secret scanners and
 * people recognise a leaked Herald key; hand the key to the producer and store only {@link hashApiKey}.
 */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Checks `Authorization: Bearer <key>` against the keys of a key file. Pure: holds only digests and
 * does no I/O, so reloading the file means building a new authenticator.
 */
export class ApiKeyAuthenticator {
  private readonly keys: readonly { digest: Buffer; principal: Principal }[];

  /** @throws ApiKeyFileError if an entry's hash is not a SHA-256 digest (entries not from parseApiKeyFile). */
  constructor(entries: readonly ApiKeyEntry[]) {
    this.keys = entries.map((entry, i) => {
      const digest = Buffer.from(entry.hash.replace(/^sha256:/, ''), 'hex');
      if (!entry.hash.startsWith('sha256:') || digest.length !== 32) {
        throw new ApiKeyFileError([`[${i}].hash: not a sha256:<hex> digest`]);
      }
      return { digest, principal: principalOf(entry) };
    });
  }

  /**
   * Authenticates an `Authorization` header value (`undefined` when absent). The bearer scheme name
   * is case-insensitive (RFC 9110). Failures do not say whether a key exists.
   */
  authenticate(authorization: string | undefined): AuthResult {
    if (authorization === undefined || authorization.trim() === '') {
      return refuse('HERALD_AUTH_MISSING', 'Authorization header required: send "Authorization: Bearer <api key>"');
    }
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    const key = match?.[1];
    if (key === undefined || key.length > MAX_KEY_LENGTH) {
      return refuse('HERALD_AUTH_MALFORMED', 'Authorization header must be "Bearer <api key>"');
    }
    // The caller controls the key, never its digest. A timing difference while comparing digests
    // could only reveal how much of SHA-256(guess) matches a stored digest, and steering a digest
    // towards chosen bytes is a preimage attack, so even an early-exit lookup would be safe here.
    // We still compare in constant time and visit every key without stopping at a match, so the
    // time taken says nothing about whether, or which, key matched; a few hundred keys cost microseconds.
    // One-shot hash: no Hash object per request (half the cost of createHash().update().digest()).
    const digest = hash('sha256', key, 'buffer');
    let found: Principal | undefined;
    for (const candidate of this.keys) {
      if (timingSafeEqual(candidate.digest, digest)) found = candidate.principal;
    }
    if (found === undefined) return refuse('HERALD_AUTH_INVALID', 'API key not recognised');
    return { ok: true, principal: found };
  }
}

/** Whether `principal` may send an event of `type`; 403 with the allowed patterns when not. */
export function authorizeType(principal: Principal, type: string): AuthzResult {
  if (principal.allowsType(type)) return { ok: true };
  return {
    ok: false,
    status: 403,
    error: {
      code: 'HERALD_TYPE_FORBIDDEN',
      message: `API key "${principal.name}" may not send events of type "${type}"; allowed: ${(principal.types ?? []).join(', ')}`,
    },
  };
}

function principalOf(entry: ApiKeyEntry): Principal {
  const patterns = entry.types?.map(globToRegExp);
  return {
    name: entry.name,
    types: entry.types,
    allowsType: patterns === undefined ? () => true : (type) => patterns.some((p) => p.test(type)),
    rateLimit: entry.rateLimit,
  };
}

function refuse(code: ErrorCode<401>, message: string): AuthResult {
  return { ok: false, status: 401, error: { code, message }, wwwAuthenticate: WWW_AUTHENTICATE };
}
