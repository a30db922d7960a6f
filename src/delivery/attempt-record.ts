/** One attempt as kept in the job's log, shown by `herald dlq show`. */
export interface AttemptRecord {
  attempt: number;
  /** ISO time the attempt finished. */
  at: string;
  status?: number;
  error?: string;
  durationMs: number;
  response?: string;
}

export function parseAttemptLog(lines: string[]): AttemptRecord[] {
  const out: AttemptRecord[] = [];
  for (const l of lines) {
    try {
      out.push(JSON.parse(l) as AttemptRecord);
    } catch {
      // A hand-written log line is not an attempt; skip it.
    }
  }
  return out;
}
