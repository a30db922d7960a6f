import { EVENT_ID_PATTERN } from '../api/event-log.js';

/** A place in the newest-first order of the log: the time an event was accepted and its id (ties by id, descending). */
export interface LogPosition {
  at: number;
  id: string;
}

/** The cursor a page hands out: opaque to clients (base64url of `at.id`), so the layout behind it may change. */
export function encodeCursor(p: LogPosition): string {
  return Buffer.from(`${p.at}.${p.id}`, 'utf8').toString('base64url');
}

const ID_RE = new RegExp(EVENT_ID_PATTERN);

/** Reads a cursor; undefined when it is not one {@link encodeCursor} made. */
export function decodeCursor(cursor: string): LogPosition | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const dot = text.indexOf('.');
  if (dot <= 0) return undefined;
  const at = Number(text.slice(0, dot));
  const id = text.slice(dot + 1);
  if (!Number.isSafeInteger(at) || at < 0 || !ID_RE.test(id)) return undefined;
  return { at, id };
}

/** Whether `p` comes after `cursor` in newest-first order. */
export function isAfter(p: LogPosition, cursor: LogPosition): boolean {
  return p.at < cursor.at || (p.at === cursor.at && p.id < cursor.id);
}

/** Newest first, ties by id descending (the order ZREVRANGEBYSCORE gives members of equal score). */
export function newestFirst(a: LogPosition, b: LogPosition): number {
  return b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
