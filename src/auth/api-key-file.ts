import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A rejected API key file; `issues` lists every problem with its path, e.g. `[2].hash: …`. */
export class ApiKeyFileError extends Error {
  readonly code = 'HERALD_API_KEY_FILE';
  override readonly name = 'ApiKeyFileError';

  constructor(readonly issues: readonly string[]) {
    super(`invalid API key file:\n  ${issues.join('\n  ')}`);
  }
}

const RateLimitSchema = z
  .object({
    /** Sustained events per second. */
    perSecond: z.number().positive().max(1_000_000),
    /** Events accepted at once after a quiet period. */
    burst: z.number().int().min(1).max(1_000_000),
  })
  .strict();

const ApiKeyEntrySchema = z
  .object({
    /** The producer or tenant; appears in logs and rate-limit keys, so printable and short. */
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'name must be 1-128 characters of A-Z a-z 0-9 _ . : -'),
    hash: z
      .string()
      .regex(/^sha256:[0-9a-fA-F]{64}$/, 'hash must be "sha256:" and 64 hex digits, the output of hashApiKey(); never store the key itself')
      .transform((h) => h.toLowerCase()),
    /** Event-type globs (`*` matches any run of characters) this key may send; omit to allow every type. */
    types: z
      .array(z.string().regex(/^[A-Za-z0-9_.:/*-]{1,128}$/, 'type patterns use A-Z a-z 0-9 _ . : / - and *'))
      .min(1, 'types must list at least one pattern; omit it to allow every type')
      .optional(),
    rateLimit: RateLimitSchema.optional(),
  })
  .strict();

const ApiKeyFileSchema = z.array(ApiKeyEntrySchema).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const first = seen.get(entry.hash);
    // Two names for one key would make the principal depend on file order.
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'hash'], message: `same key hash as entry ${first}` });
    else seen.set(entry.hash, i);
  });
});

/** One accepted API key as the file describes it (hash already lower-cased). */
export type ApiKeyEntry = z.output<typeof ApiKeyEntrySchema>;
/** Per-key ingest rate limit. */
export type ApiKeyRateLimit = z.output<typeof RateLimitSchema>;

/**
 * Parses an API key file: a YAML or JSON list (YAML 1.2 is a superset of JSON, so one parser reads
 * both) of `{ name, hash: "sha256:<hex>", types?, rateLimit?: { perSecond, burst } }`. Several
 * entries may share a name (a producer rotating keys); no two may share a hash. Pure: reading the
 * file is the caller's job.
 * @throws ApiKeyFileError listing every problem found.
 */
export function parseApiKeyFile(text: string): ApiKeyEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ApiKeyFileError([`not valid YAML or JSON: ${(err as Error).message}`]);
  }
  const parsed = ApiKeyFileSchema.safeParse(doc ?? []);
  if (!parsed.success) {
    throw new ApiKeyFileError(parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  return parsed.data;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(file)';
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}
