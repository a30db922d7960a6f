/**
 * True when every field set in `desired` has the same value in `observed`. The API server adds
 * defaults (probe thresholds, `protocol`, `terminationMessagePath`) and other managers add their own
 * fields, so equality would never hold; containment is the question "would applying `desired`
 * change anything we own?". Lists must match element by element and in length: a removed volume or
 * env var must count as a difference. Fields the controller stops setting are covered by the
 * config checksum annotation, which changes with them.
 */
export function isSubset(desired: unknown, observed: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(observed) && desired.length === observed.length && desired.every((d, i) => isSubset(d, observed[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (observed === null || typeof observed !== 'object' || Array.isArray(observed)) return false;
    const o = observed as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, o[k]));
  }
  return desired === observed;
}
