import { createHash } from 'node:crypto';
import type { IngestEvent } from '../api/event.js';

/** What an ordering key is read from, parsed once per spec (see OrderingSpec.key). */
export type OrderingKeySource =
  | { from: 'userID' }
  | { from: 'type' }
  | { from: 'payload'; pointer: readonly string[] }
  | { from: 'header'; header: string };

/** The request headers an ordering key may come from, lower-cased names. */
export type RequestHeaders = Readonly<Record<string, string | undefined>>;

/**
 * Keys longer than this are stored by their SHA-256: a key names Redis keys (one list per key), and
 * a payload field can be long. The hash keeps the key's identity, so its order is unchanged.
 */
export const MAX_STORED_KEY_LENGTH = 128;

/** Parses `spec.ordering.key` (already checked by the schema's pattern). */
export function parseKeySource(key: string): OrderingKeySource {
  if (key === 'userID' || key === 'type') return { from: key };
  if (key.startsWith('header:')) return { from: 'header', header: key.slice('header:'.length).toLowerCase() };
  if (key.startsWith('/')) return { from: 'payload', pointer: parsePointer(key) };
  throw new Error(`ordering.key "${key}" is not userID, type, a JSON pointer or header:<name>`);
}

/**
 * A JSON pointer (RFC 6901) as its reference tokens: `/a~1b/~0c` → `['a/b', '~c']`. `~1` is unescaped
 * before `~0`, as the RFC says, so `~01` is `~1`, not `/`.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new Error(`JSON pointer "${pointer}" has a "~" not followed by 0 or 1`);
      return t.replaceAll('~1', '/').replaceAll('~0', '~');
    });
}

/**
 * The value at `pointer` in `value`, or undefined when a step is missing. Array steps must be
 * decimal indexes without leading zeros (`-`, past the end, is missing); own properties only, so
 * `/constructor` of a plain object is missing rather than Object's.
 */
export function resolvePointer(value: unknown, pointer: readonly string[]): unknown {
  let v = value;
  for (const token of pointer) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      v = v[Number(token)];
    } else if (v !== null && typeof v === 'object') {
      if (!Object.hasOwn(v, token)) return undefined;
      v = (v as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return v;
}

/**
 * The ordering key of `event` at a destination whose key comes from `source`, or undefined when the
 * event has none (it is then delivered unordered). Strings are keys as they are; numbers and booleans
 * by their JSON text (`42` and `"42"` are the same key); objects, arrays, null and empty strings are
 * no key. Long keys are stored by their hash ({@link MAX_STORED_KEY_LENGTH}).
 */
export function orderingKeyOf(source: OrderingKeySource, event: IngestEvent, headers?: RequestHeaders): string | undefined {
  let raw: unknown;
  switch (source.from) {
    case 'userID':
      raw = event.userID;
      break;
    case 'type':
      raw = event.type ?? 'event';
      break;
    case 'payload':
      raw = resolvePointer(event.payload, source.pointer);
      break;
    case 'header':
      raw = headers?.[source.header];
      break;
  }
  let key: string;
  if (typeof raw === 'string') key = raw;
  else if (typeof raw === 'number' || typeof raw === 'boolean') key = JSON.stringify(raw);
  else return undefined;
  if (key === '') return undefined;
  return key.length > MAX_STORED_KEY_LENGTH ? `sha256:${createHash('sha256').update(key).digest('hex')}` : key;
}
