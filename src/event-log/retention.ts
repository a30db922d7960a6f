import { parseDuration } from '../api/duration.js';
import type { DestinationSpec } from '../api/destination.js';

/** How long the log keeps a destination's events (ms): its `spec.eventLog.retention`, else the installation's default; 0 is none. */
export function logRetentionMs(spec: Pick<DestinationSpec, 'eventLog'>, defaultMs: number): number {
  return spec.eventLog ? parseDuration(spec.eventLog.retention) : defaultMs;
}

/**
 * The response prefix the log keeps of an attempt: at most `maxBytes` of UTF-8, cut on a character
 * boundary. Dead letters keep the sender's 512 characters; the log keeps less since it holds every event.
 */
export function responsePrefix(text: string, maxBytes = RESPONSE_PREFIX_BYTES): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const buf = Buffer.from(text, 'utf8').subarray(0, maxBytes);
  // Drop a character cut in half (a continuation byte run at the end).
  let end = buf.length;
  let i = end - 1;
  while (i >= 0 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = buf[i]!;
    const len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (i + len > end) end = i;
  }
  return buf.subarray(0, end).toString('utf8');
}

/** Bytes of a receiver's answer the log keeps per attempt. */
export const RESPONSE_PREFIX_BYTES = 256;
