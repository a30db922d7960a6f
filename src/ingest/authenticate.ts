import { readFile } from 'node:fs/promises';
import { watchFile, unwatchFile } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ApiKeyAuthenticator } from '../auth/api-keys.js';
import { parseApiKeyFile } from '../auth/api-key-file.js';
import type { Logger } from '../log/logger.js';
import type { TokenBucket } from '../ratelimit/token-bucket.js';
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

  /** The request-facing check: 401 without a valid key, 429 with Retry-After past the key's rate. */
  readonly authenticate = async (req: IncomingMessage): Promise<Principal> => {
    const result = this.authenticator.authenticate(req.headers.authorization);
    if (!result.ok) throw new IngestError(401, result.error.code, result.error.message, undefined, { 'www-authenticate': result.wwwAuthenticate });
    const { principal } = result;
    if (principal.rateLimit) {
      let taken;
      try {
        taken = await this.bucket.take(`key:${principal.name}`, { ratePerSec: principal.rateLimit.perSecond, burst: principal.rateLimit.burst });
      } catch (err) {
        throw new StoreUnavailableError(err);
      }
      if (!taken.allowed) {
        const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        throw new IngestError(429, 'rate_limited', `API key "${principal.name}" is over its rate of ${principal.rateLimit.perSecond} events/s; retry in ${seconds} s`, undefined, { 'retry-after': String(seconds) });
      }
    }
    return principal;
  };

  close(): void {
    unwatchFile(this.path);
  }
}
