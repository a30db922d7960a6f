import type { DestinationStream } from 'pino';

const LEVEL_COLOUR: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
/** Fields shown in a line's prefix, or not worth a terminal's width. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'process', 'component', 'destination']);

/**
 * Turns one pino JSON line into a readable one: `12:00:01.234 INFO  worker orders  Delivered event
 * eventId=evt_… status=200`. Pure, so it is tested on strings; a line that is not JSON passes through.
 */
export function formatLogLine(line: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const level = String(rec.level ?? 'info');
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  const where = [rec.component, rec.destination].filter((v) => typeof v === 'string' && v !== '').join(' ');
  const fields = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${paint('90', `${k}=`)}${show(v)}`);
  const head = [paint('90', time), paint(LEVEL_COLOUR[level] ?? '0', level.toUpperCase().padEnd(5)), where ? paint('1', where) : '', String(rec.msg ?? '')]
    .filter((p) => p !== '')
    .join(' ');
  return `${head}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

function show(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v && typeof v === 'object' && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

/** A pino destination that writes {@link formatLogLine}'s lines to `out` (stdout on a terminal). */
export function prettyStream(out: { write(s: string): unknown }, opts: { colour: boolean }): DestinationStream {
  return { write: (line: string) => void out.write(formatLogLine(line.trimEnd(), opts.colour)) };
}
