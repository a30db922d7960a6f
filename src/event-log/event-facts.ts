/** What the log needs to know of an event beyond its deliveries: its type and who sent it. */
export interface EventFacts {
  type: string;
  producer?: string;
}

const TYPE_AT = '"type":"';
const PRODUCER_TAIL = ',"producer":"';
/** API key names (src/auth/api-key-file.ts) and event types (EVENT_TYPE_PATTERN) need no JSON escapes. */
const PLAIN = /^[A-Za-z0-9_.:/-]{1,128}$/;

/**
 * The type and producer of a delivery body (src/ingest/delivery-body.ts) without parsing the payload:
 * the type follows the id at the start, the producer is the last member. Falls back to a full parse
 * for a body of another shape; undefined when it is not a delivery body.
 */
export function eventFacts(body: string): EventFacts | undefined {
  const t = body.startsWith('{"id":"') ? body.indexOf(TYPE_AT) : -1;
  // The id is a plain token, so the "type" member after it is within the first hundred or so characters.
  if (t > 0 && t < 200) {
    const end = body.indexOf('"', t + TYPE_AT.length);
    const type = body.slice(t + TYPE_AT.length, end);
    if (end > 0 && PLAIN.test(type)) {
      // A producer member ends the body: `,"producer":"name"}`. A match inside the payload would be
      // followed by the payload's own closing characters before the body's one `}`.
      const p = body.lastIndexOf(PRODUCER_TAIL);
      const producer = p > 0 && body.endsWith('"}') ? body.slice(p + PRODUCER_TAIL.length, -2) : undefined;
      return producer !== undefined && PLAIN.test(producer) ? { type, producer } : { type };
    }
  }
  try {
    const v = JSON.parse(body) as { type?: unknown; producer?: unknown };
    if (typeof v.type !== 'string') return undefined;
    return typeof v.producer === 'string' ? { type: v.type, producer: v.producer } : { type: v.type };
  } catch {
    return undefined;
  }
}

/** Who reads the log through the API: an API key's name (its tenant) and the types it may send. */
export interface Viewer {
  name: string;
  allowsType?: (type: string) => boolean;
}

/**
 * Whether `viewer` may see an event: one sent with a key of the same name, of a type the key may
 * send. Without a viewer (ingest running without keys, or the CLI, which reads Redis directly) every
 * event; an event whose facts are unknown only then.
 */
export function visibleTo(facts: EventFacts | undefined, viewer: Viewer | undefined): boolean {
  if (!viewer) return true;
  if (!facts) return false;
  return facts.producer === viewer.name && (viewer.allowsType?.(facts.type) ?? true);
}
