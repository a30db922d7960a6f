/**
 * The delivery log's record of one event, written by ingest in the same script as the event's jobs
 * (src/ingest/write-script.ts): `{"a": acceptedAt ms, "t": type, "p": producer?, "d": [destinations
 * it was queued for], "f": [destinations whose filter skipped it]}`. Built from parts, like the
 * delivery body: the destination lists are serialised once per event type ({@link routingLogTail}).
 */
export interface EventMeta {
  acceptedAt: number;
  type: string;
  producer?: string;
  routed: string[];
  filtered: string[];
}

/** The part of an event's record its type decides (the destinations), serialised once per routing. */
export function routingLogTail(routed: readonly string[], filtered: readonly string[]): string {
  return `,"d":${JSON.stringify(routed)},"f":${JSON.stringify(filtered)}}`;
}

/** An event's record as {@link parseEventMeta} reads it; `typeJson`, `producerJson` and `tail` are JSON already. */
export function eventMetaJson(acceptedAt: number, typeJson: string, producerJson: string | undefined, tail: string): string {
  return producerJson === undefined ? `{"a":${acceptedAt},"t":${typeJson}${tail}` : `{"a":${acceptedAt},"t":${typeJson},"p":${producerJson}${tail}`;
}

/** Reads a stored record; undefined for anything that is not one (a hand-written key, a newer format). */
export function parseEventMeta(text: string | null | undefined): EventMeta | undefined {
  if (!text) return undefined;
  let v: { a?: unknown; t?: unknown; p?: unknown; d?: unknown; f?: unknown };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof v.a !== 'number' || typeof v.t !== 'string' || !isStrings(v.d)) return undefined;
  return { acceptedAt: v.a, type: v.t, ...(typeof v.p === 'string' ? { producer: v.p } : {}), routed: v.d, filtered: isStrings(v.f) ? v.f : [] };
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Who reads the log through the API: an API key's name (its tenant) and the types it may send. */
export interface Viewer {
  name: string;
  allowsType?: (type: string) => boolean;
}

/**
 * Whether `viewer` may see an event: one sent with a key of the same name, of a type the key may
 * send. Without a viewer (ingest running without keys, or the CLI, which reads Redis directly) every event.
 */
export function visibleTo(meta: EventMeta, viewer: Viewer | undefined): boolean {
  if (!viewer) return true;
  return meta.producer === viewer.name && (viewer.allowsType?.(meta.type) ?? true);
}
