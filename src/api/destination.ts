import { z } from 'zod';
import { WorkerScheduling } from './pod-scheduling.js';
import { durationString, parseDuration } from './duration.js';

export const API_GROUP = 'herald.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'Destination';

/** Names become queue keys, Deployment names (`herald-worker-<name>`) and label values, so they follow DNS-1123 with room for the prefix. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const NAME_MAX = 48;

/** Headers that carry credentials must come from a Secret (`headersFrom`), never inline in a spec that `kubectl get` shows. */
export const SECRET_HEADER_NAMES = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'api-key', 'x-auth-token'];

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers Herald sets itself; letting a spec override them would break signatures and receivers' deduplication. */
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'transfer-encoding', 'connection'];

const secretRef = z.object({ name: z.string().regex(new RegExp(NAME_PATTERN)).max(253) }).strict();

export const RetrySpec = z
  .object({
    /** Total attempts including the first; whichever of attempts and window ends first stops retrying. */
    maxAttempts: z.number().int().min(1).max(100).default(30),
    backoff: z.enum(['exponential', 'linear', 'fixed']).default('exponential'),
    initialDelay: durationString.default('10s'),
    maxDelay: durationString.default('2h'),
    /** Explicit delays before attempts 2, 3, ...; when set it replaces `backoff`/`initialDelay`; the last entry repeats. */
    schedule: z.array(durationString).min(1).max(100).optional(),
    maxRetryWindow: durationString.default('24h'),
  })
  .strict()
  .refine((r) => parseDuration(r.initialDelay) <= parseDuration(r.maxDelay), {
    message: 'initialDelay must not exceed maxDelay',
    path: ['initialDelay'],
  });

/**
 * Where an ordering key comes from: the event's `userID`, its `type`, a JSON pointer (RFC 6901) into
 * its payload, or a request header (`header:<name>`).
 */
export const ORDERING_KEY_PATTERN = '^(userID|type|(/([^~]|~[01])*)+|header:[!#$%&\'*+.^_`|~0-9A-Za-z-]+)$';

export const OrderingSpec = z
  .object({
    key: z.string().max(256).regex(new RegExp(ORDERING_KEY_PATTERN), 'ordering.key must be userID, type, a JSON pointer into the payload (/orderId) or header:<name>'),
    /** `continue`: the next event of the key goes once its head is dead-lettered; `block`: the key waits until that dead letter is replayed or skipped. */
    onDeadLetter: z.enum(['continue', 'block']).default('continue'),
  })
  .strict();

export const DestinationSpec = z
  .object({
    url: z
      .url({ protocol: /^https?$/, message: 'url must be an absolute http:// or https:// URL' })
      .max(2048),
    /** Hard deadline for one delivery attempt: connect, send and read the response. */
    timeout: durationString.default('10s'),
    retry: RetrySpec.default(RetrySpec.parse({})),
    filter: z
      .object({
        /** Glob patterns (`*` matches any run of characters) on the event type; empty matches every event. */
        types: z.array(z.string().min(1).max(128)).max(64).default([]),
      })
      .strict()
      .default({ types: [] }),
    /** Deliveries in flight at once per worker replica. */
    concurrency: z.number().int().min(1).max(1000).default(10),
    headers: z
      .record(z.string().regex(HEADER_NAME_RE, 'header names must be HTTP tokens'), z.string().max(4096))
      .default({})
      .refine((h) => Object.keys(h).every((k) => !SECRET_HEADER_NAMES.includes(k.toLowerCase())), {
        message: `credential headers (${SECRET_HEADER_NAMES.join(', ')}) must come from headersFrom.secretRef, not inline`,
      })
      .refine((h) => Object.keys(h).every((k) => !RESERVED_HEADERS.includes(k.toLowerCase())), {
        message: `headers must not override ${RESERVED_HEADERS.join(', ')}`,
      }),
    /** Headers read from a Secret: each key is a header name, each value its value. */
    headersFrom: z.object({ secretRef }).strict().optional(),
    /**
     * Standard Webhooks signing secrets from a Secret: key `secret` (`whsec_<base64>`) signs every
     * delivery; during a rotation key `previous` signs too, until the time in `previous-expires-at`.
     */
    signing: z.object({ secretRef }).strict().optional(),
    /**
     * Opt-in circuit breaker: after `failureThreshold` failures in a row the destination's queue stops,
     * one probe is sent every `probeInterval` (doubling up to `maxProbeInterval`), and deliveries
     * resume by themselves on success. Waiting events keep their attempts; once the circuit has been
     * open for `maxOpenDuration` they are dead-lettered as usual.
     */
    circuitBreaker: z
      .object({
        failureThreshold: z.number().int().min(1).max(1000).default(5),
        probeInterval: durationString.default('10s'),
        maxProbeInterval: durationString.default('5m'),
        maxOpenDuration: durationString.default('24h'),
      })
      .strict()
      .optional(),
    /** Deliveries per second across all worker replicas of this destination. */
    rateLimit: z
      .object({
        perSecond: z.number().int().min(1).max(100_000),
      })
      .strict()
      .optional(),
    /**
     * The delivery log of this destination's events (`herald events`, `GET /events`): kept for
     * `retention` after an event is accepted, `0s` for none; HERALD_EVENT_LOG_RETENTION when unset.
     */
    eventLog: z
      .object({
        retention: durationString,
      })
      .strict()
      .optional(),
    /**
     * Ordered delivery per key: for one key, event n+1 is not sent until event n was delivered (2xx)
     * or dead-lettered. `key` is `userID`, `type`, a JSON pointer into the payload (`/orderId`) or
     * `header:<name>` (a request header). Events without a key are delivered unordered.
     * `onDeadLetter: block` holds a key whose head was dead-lettered until it is replayed or skipped.
     */
    ordering: OrderingSpec.optional(),
    /** A paused destination keeps queueing events but delivers none until resumed. */
    paused: z.boolean().default(false),
    /** What happens to queued events when the Destination is deleted. */
    deletionPolicy: z.enum(['drain', 'keep', 'purge']).default('keep'),
    workers: z
      .object({
        replicas: z.number().int().min(0).max(100).default(1),
        resources: z
          .object({
            requests: z.record(z.string(), z.string()).optional(),
            limits: z.record(z.string(), z.string()).optional(),
          })
          .strict()
          .optional(),
        ...WorkerScheduling.shape,
      })
      .strict()
      .default({ replicas: 1 }),
    scaling: z
      .object({
        minReplicas: z.number().int().min(0).max(100).default(1),
        maxReplicas: z.number().int().min(1).max(100).default(10),
        /** Backlog (herald_queue_backlog: waiting, prioritised, delayed and active deliveries) one replica is expected to carry. */
        targetBacklog: z.number().int().min(1).max(1_000_000).default(100),
      })
      .strict()
      .refine((s) => s.minReplicas <= s.maxReplicas, { message: 'minReplicas must not exceed maxReplicas', path: ['minReplicas'] })
      .optional(),
  })
  .strict();

export const DestinationMetadata = z
  .object({
    name: z
      .string()
      .max(NAME_MAX, `name must be at most ${NAME_MAX} characters`)
      .regex(new RegExp(NAME_PATTERN), 'name must be lower-case letters, digits and "-" (DNS-1123 label)'),
    namespace: z.string().optional(),
  })
  .loose();

export const Destination = z
  .object({
    apiVersion: z.literal(`${API_GROUP}/${API_VERSION}`),
    kind: z.literal(KIND),
    metadata: DestinationMetadata,
    spec: DestinationSpec,
  })
  .loose();

export type DestinationSpec = z.infer<typeof DestinationSpec>;
export type DestinationSpecInput = z.input<typeof DestinationSpec>;
export type Destination = z.infer<typeof Destination>;
export type RetrySpec = z.infer<typeof RetrySpec>;
export type OrderingSpec = z.infer<typeof OrderingSpec>;

/** The resolved form workers and ingest use: the name plus a fully defaulted spec. */
export interface ResolvedDestination {
  name: string;
  spec: DestinationSpec;
}

/** Turns a glob (`order.*`) into an anchored RegExp; only `*` is special. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Builds the routing predicate of a destination once, so ingest does not compile globs per event. */
export function typeMatcher(spec: Pick<DestinationSpec, 'filter'>): (type: string) => boolean {
  const patterns = spec.filter.types.map(globToRegExp);
  if (patterns.length === 0) return () => true;
  return (type) => patterns.some((p) => p.test(type));
}
