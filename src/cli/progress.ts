/** `1804` → `1,804`: counts a person reads. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * The progress line of a replay or purge: `replayed 120 of 1,000 (48/s, ETA 18s)`. Pure: the rate
 * comes from the elapsed time given.
 */
export function progressLine(verb: string, done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
  const speed = rate > 0 ? `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s` : '…/s';
  return `${verb} ${count(done)} of ${count(total)} (${speed}${eta !== undefined && done < total ? `, ETA ${duration(eta)}` : ''})`;
}

function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Shows progress on one rewritten line of a terminal (stderr), at most ten times a second, and
 * nothing when `out` is not a terminal: scripts and logs get only the final summary.
 */
export function terminalProgress(verb: string, out: { isTTY?: boolean; write(s: string): unknown }, clock: () => number = Date.now): { update: (done: number, total: number) => void; end: () => void } {
  if (!out.isTTY) return { update: () => undefined, end: () => undefined };
  const started = clock();
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = clock();
      if (done < total && now - last < 100) return;
      last = now;
      shown = true;
      out.write(`\r${progressLine(verb, done, total, now - started)}\u001b[K`);
    },
    end() {
      if (shown) out.write('\n');
    },
  };
}
