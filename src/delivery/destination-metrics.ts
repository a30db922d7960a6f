import type { DeliveryMetrics } from '../metrics/metrics.js';

export type AttemptOutcome = 'success' | 'retry' | 'failed';

type Inc = { inc(): void };
type Observe = { observe(v: number): void };

/**
 * One destination's delivery metrics. prom-client validates and hashes the label set on every
 * `inc({…})` or `observe({…}, v)`, and a worker made about six such calls per delivery; this looks
 * each label child up once and keeps it in a field of its own (a keyed map built a key string and a
 * closure per call). Children are made on first use, so a series still appears only once it has
 * something to count, as before.
 */
export class DestinationMetrics {
  private inFlight: ReturnType<DeliveryMetrics['inFlight']['labels']> | undefined;
  private readonly deliveries: Partial<Record<AttemptOutcome, Inc>> = {};
  private readonly duration: Partial<Record<AttemptOutcome, Observe>> = {};
  private readonly dead: Partial<Record<'permanent' | 'exhausted', Inc>> = {};
  private attemptsDelivered: Observe | undefined;
  private attemptsDead: Observe | undefined;
  private e2e: Observe | undefined;

  constructor(private readonly m: DeliveryMetrics, private readonly destination: string) {}

  /** Counts a request in flight until {@link sent} is called for it. */
  sending(): void {
    (this.inFlight ??= this.m.inFlight.labels({ destination: this.destination })).inc();
  }

  sent(): void {
    this.inFlight!.dec();
  }

  /** One HTTP attempt and how long it took. */
  attempt(outcome: AttemptOutcome, seconds: number): void {
    (this.deliveries[outcome] ??= this.m.deliveries.labels({ destination: this.destination, outcome })).inc();
    (this.duration[outcome] ??= this.m.duration.labels({ destination: this.destination, outcome })).observe(seconds);
  }

  /** An event delivered after `attempts` attempts, `e2eSeconds` after ingest accepted it. */
  delivered(attempts: number, e2eSeconds: number): void {
    (this.attemptsDelivered ??= this.m.attempts.labels({ destination: this.destination, result: 'delivered' })).observe(attempts);
    (this.e2e ??= this.m.e2e.labels({ destination: this.destination })).observe(e2eSeconds);
  }

  deadLettered(reason: 'permanent' | 'exhausted', attempts: number): void {
    (this.dead[reason] ??= this.m.deadLetters.labels({ destination: this.destination, reason })).inc();
    (this.attemptsDead ??= this.m.attempts.labels({ destination: this.destination, result: 'dead' })).observe(attempts);
  }
}
