import type { DeliveryMetrics } from '../metrics/metrics.js';

export type AttemptOutcome = 'success' | 'retry' | 'failed';

/**
 * One destination's delivery metrics. prom-client validates and hashes the label set on every
 * `inc({…})` or `observe({…}, v)`, and a worker made about six such calls per delivery; this looks
 * each label child up once. Children are made on first use, so a series still appears only once it
 * has something to count, as before.
 */
export class DestinationMetrics {
  private readonly children = new Map<string, { inc(): void } | { observe(v: number): void }>();
  private inFlight: ReturnType<DeliveryMetrics['inFlight']['labels']> | undefined;

  constructor(private readonly m: DeliveryMetrics, private readonly destination: string) {}

  private child<T extends { inc(): void } | { observe(v: number): void }>(key: string, make: () => T): T {
    let c = this.children.get(key) as T | undefined;
    if (!c) {
      c = make();
      this.children.set(key, c);
    }
    return c;
  }

  /** Counts a request in flight until {@link sent} is called for it. */
  sending(): void {
    (this.inFlight ??= this.m.inFlight.labels({ destination: this.destination })).inc();
  }

  sent(): void {
    this.inFlight!.dec();
  }

  /** One HTTP attempt and how long it took. */
  attempt(outcome: AttemptOutcome, seconds: number): void {
    const { destination } = this;
    this.child(`deliveries:${outcome}`, () => this.m.deliveries.labels({ destination, outcome })).inc();
    this.child(`duration:${outcome}`, () => this.m.duration.labels({ destination, outcome })).observe(seconds);
  }

  /** An event delivered after `attempts` attempts, `e2eSeconds` after ingest accepted it. */
  delivered(attempts: number, e2eSeconds: number): void {
    const { destination } = this;
    this.child('attempts:delivered', () => this.m.attempts.labels({ destination, result: 'delivered' })).observe(attempts);
    this.child('e2e', () => this.m.e2e.labels({ destination })).observe(e2eSeconds);
  }

  deadLettered(reason: 'permanent' | 'exhausted', attempts: number): void {
    const { destination } = this;
    this.child(`dead:${reason}`, () => this.m.deadLetters.labels({ destination, reason })).inc();
    this.child('attempts:dead', () => this.m.attempts.labels({ destination, result: 'dead' })).observe(attempts);
  }
}
