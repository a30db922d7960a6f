import { InvalidSigningSecretError, parseSecret } from './standard-webhooks.js';

/** One secret of a destination; `notAfter` ends its rotation grace period. */
export interface KeyringEntry {
  /** `whsec_<base64>`. */
  secret: string;
  /** Last instant (inclusive, like X.509's notAfter) at which this secret still signs; absent = no end. */
  notAfter?: Date;
}

/**
 * The signing secrets of one destination over time. Rotating a secret means adding the new one and
 * giving the old one a `notAfter` at the end of a grace period: until then every message carries
 * both signatures, so receivers can switch secrets whenever they like within the window. Pure: the
 * caller supplies the time.
 */
export class SigningKeyring {
  private readonly entries: readonly KeyringEntry[];

  /**
   * @throws InvalidSigningSecretError naming the position (never the value) of every malformed
   * secret or invalid date, so a bad rotation is caught when configuration loads, not at delivery.
   */
  constructor(entries: readonly KeyringEntry[]) {
    const problems: string[] = [];
    entries.forEach((entry, i) => {
      try {
        parseSecret(entry.secret);
      } catch (err) {
        problems.push(`secret ${i}: ${(err as Error).message}`);
      }
      if (entry.notAfter !== undefined && Number.isNaN(entry.notAfter.getTime())) {
        problems.push(`secret ${i}: notAfter is not a valid date`);
      }
    });
    if (problems.length > 0) throw new InvalidSigningSecretError(problems.join('; '));
    this.entries = entries.map((e) => ({ ...e }));
  }

  /** Secrets that sign at `now`, in configured order; empty when every secret has expired. */
  activeAt(now: Date): string[] {
    return this.entries.filter((e) => e.notAfter === undefined || now.getTime() <= e.notAfter.getTime()).map((e) => e.secret);
  }
}
