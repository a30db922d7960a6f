import type { RedisClient } from './client.js';
import { DestinationSpec, type ResolvedDestination } from '../api/destination.js';
import type { RedisKeys } from './keys.js';
import type { Logger } from '../log/logger.js';

/**
 * The active destination set, published in Redis so ingest (any number of replicas) routes to
 * destinations that the controller or `herald dev` declared, without a restart. Writers replace one
 * entry at a time and announce the change; readers re-read the whole hash on each announcement and
 * every `refreshMs` as a safety net for missed messages.
 */
export class DestinationRegistry {
  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys) {}

  async put(dest: ResolvedDestination): Promise<void> {
    await this.redis.multi().hset(this.keys.destinations(), dest.name, JSON.stringify(dest.spec)).publish(this.keys.destinationsChannel(), dest.name).exec();
  }

  async remove(name: string): Promise<void> {
    await this.redis.multi().hdel(this.keys.destinations(), name).publish(this.keys.destinationsChannel(), name).exec();
  }

  /** Replaces the whole set (used by `herald dev` at start-up). */
  async replaceAll(dests: ResolvedDestination[]): Promise<void> {
    const m = this.redis.multi().del(this.keys.destinations());
    for (const d of dests) m.hset(this.keys.destinations(), d.name, JSON.stringify(d.spec));
    await m.publish(this.keys.destinationsChannel(), '*').exec();
  }

  async get(name: string): Promise<ResolvedDestination | undefined> {
    const raw = await this.redis.hget(this.keys.destinations(), name);
    return raw === null ? undefined : { name, spec: DestinationSpec.parse(JSON.parse(raw)) };
  }

  /** Entries that fail to parse (written by a newer Herald, say) are skipped and reported, not fatal. */
  async list(onInvalid?: (name: string, err: unknown) => void): Promise<ResolvedDestination[]> {
    const all = await this.redis.hgetall(this.keys.destinations());
    const out: ResolvedDestination[] = [];
    for (const [name, raw] of Object.entries(all)) {
      try {
        out.push({ name, spec: DestinationSpec.parse(JSON.parse(raw)) });
      } catch (err) {
        onInvalid?.(name, err);
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * Keeps an in-memory copy of the destination set current. `subscriber` must be a dedicated
 * connection (Redis pub/sub takes over the connection).
 */
export class DestinationWatcher {
  private current: ResolvedDestination[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private listeners: Array<(d: ResolvedDestination[]) => void> = [];

  constructor(
    private readonly registry: DestinationRegistry,
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    private readonly refreshMs = 5_000,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', () => void this.refresh());
    await this.subscriber.subscribe(this.keys.destinationsChannel());
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  get destinations(): readonly ResolvedDestination[] {
    return this.current;
  }

  onChange(fn: (d: ResolvedDestination[]) => void): void {
    this.listeners.push(fn);
  }

  async refresh(): Promise<void> {
    if (this.closed) return;
    try {
      const next = await this.registry.list((name, err) => this.logger.warn({ destination: name, err }, 'Ignoring invalid destination entry'));
      const changed = JSON.stringify(next) !== JSON.stringify(this.current);
      this.current = next;
      if (changed) {
        this.logger.info({ destinations: next.map((d) => d.name) }, 'Destination set changed');
        for (const l of this.listeners) l(next);
      }
    } catch (err) {
      // Keep routing with the last known set while Redis is away; ingest itself answers 503 then.
      this.logger.debug({ err }, 'Destination refresh failed');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
