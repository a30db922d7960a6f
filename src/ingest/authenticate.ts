import { readFile } from 'node:fs/promises';
import { watchFile, unwatchFile } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ApiKeyAuthenticator } from '../auth/api-keys.js';
import { parseApiKeyFile } from '../auth/api-key-file.js';
import type { Logger } from '../log/logger.js';
import type { TokenBucket } from './token-bucket.js';
import type { Principal } from './app.js';
import { IngestError, StoreUnavailableError } from './errors.js';

/**
 * API-key authentication and per-key rate limiting for ingest. The key file (hashes only) is read at
 * start and re-read when it changes, so rotating keys in the mounted Secret needs no restart.
 */
export class IngestAuth {
  private authenticator: ApiKeyAuthenticator;

  private constructor(private readonly path: string, initial: ApiKeyAuthenticator, private readonly bucket: TokenBucket, private readonly logger: Logger) {
    this.authenticator = initial;
  }

  static async open(path: string, bucket: TokenBucket, logger: Logger): Promise<IngestAuth> {
    const auth = new IngestAuth(path, await IngestAuth.load(path), bucket, logger);
    // Kubernetes updates mounted Secrets by swapping a symlink; polling the path sees that, fs.watch may not.
    watchFile(path, { interval: 5_000 }, () => void auth.reload());
    return auth;
  }

  private static async load(path: string): Promise<ApiKeyAuthenticator> {
    return new ApiKeyAuthenticator(parseApiKeyFile(await readFile(path, 'utf8')));
  }

  private async reload(): Promise<void> {
    try {
      this.authenticator = await IngestAuth.load(this.path);
      this.logger.info({ file: this.path }, 'Reloaded API keys');
    } catch (err) {
      this.logger.error({ err: (err as Error).message, file: this.path }, 'Cannot reload API keys; keeping the previous ones');
    }
  }

  /**
   * The request-facing check, made before the body is read: 401 without a valid key. The principal's
   * `admit` then charges the key's rate limit once the body says how many events it carries.
   */
  readonly authenticate = (req: IncomingMessage): Promise<Principal> => {
    const result = this.authenticator.authenticate(req.headers.authorization);
    if (!result.ok) return Promise.reject(new IngestError(401, result.error.code, result.error.message, undefined, { 'www-authenticate': result.wwwAuthenticate }));
    const { principal } = result;
    const limit = principal.rateLimit;
    if (!limit) return Promise.resolve(principal);
    return Promise.resolve({ ...principal, admit: (events: number) => this.admit(principal.name, limit, events) });
  };

  /**
   * Takes one token per event from the key's bucket, all or none: a batch over what is left is
   * refused whole (429 with Retry-After, nothing stored), and one larger than the burst can never
   * pass (413, split it).
   */
  private async admit(name: string, limit: { perSecond: number; burst: number }, events: number): Promise<void> {
    if (events > limit.burst) {
      throw new IngestError(413, 'batch_over_rate_burst', `API key "${name}" may send at most ${limit.burst} events at once (its burst); this request holds ${events}; nothing was accepted, split it`);
    }
    let taken;
    try {
      taken = await this.bucket.take(`key:${name}`, { ratePerSec: limit.perSecond, burst: limit.burst, cost: events });
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    if (!taken.allowed) {
      const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
      const what = events === 1 ? 'the event was not accepted' : `this request holds ${events} events and ${taken.remaining} may be sent now; none of them was accepted`;
      throw new IngestError(429, 'rate_limited', `API key "${name}" is over its rate of ${limit.perSecond} events/s; ${what}; retry in ${seconds} s`, undefined, { 'retry-after': String(seconds) });
    }
  }

  close(): void {
    unwatchFile(this.path);
  }
}
