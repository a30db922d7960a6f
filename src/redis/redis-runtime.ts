import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { redisMetrics } from '../metrics/metrics.js';
import type { RedisClient } from './client.js';
import { assertNoEviction, createRedis } from './connection.js';
import { RedisKeys } from './keys.js';
import { redisTarget, type RedisTarget } from './redis-target.js';
import { compactHashWarning } from './server-settings.js';
import type { ReadinessCheck } from '../server/ops-routes.js';

/** The Redis connections of one process, its health gauge and its readiness check. */
export class RedisRuntime {
  readonly keys: RedisKeys;
  private readonly extra: RedisClient[] = [];
  private readonly gauge;
  private timer: NodeJS.Timeout | undefined;
  private queueConn: RedisClient | undefined;
  /** The Redis this process uses: a URL or a Sentinel master group; every connection below opens on it. */
  readonly target: RedisTarget;

  private constructor(readonly redis: RedisClient, private readonly config: Config, private readonly logger: Logger, registry: Registry) {
    this.keys = new RedisKeys(config.HERALD_REDIS_PREFIX);
    this.target = redisTarget(config);
    this.gauge = redisMetrics(registry).up;
  }

  /**
   * Connects and checks the eviction policy. A Redis that is down is waited for (the process stays
   * unready); one that may evict keys is refused at once, since it would silently lose events.
   */
  static async open(config: Config, logger: Logger, registry: Registry, name: string): Promise<RedisRuntime> {
    const rt = new RedisRuntime(createRedis(redisTarget(config), { name }), config, logger, registry);
    rt.redis.on('error', (err) => logger.debug({ err: err.message }, 'Redis connection error'));
    let warned = false;
    while (rt.redis.status !== 'ready') {
      if (!warned && rt.redis.status !== 'connecting' && rt.redis.status !== 'connect' && rt.redis.status !== 'wait') {
        logger.warn('Waiting for Redis');
        warned = true;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1_000);
        rt.redis.once('ready', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await assertNoEviction(rt.redis);
    const hashWarning = await compactHashWarning(rt.redis);
    if (hashWarning) logger.warn(hashWarning);
    rt.gauge.set(1);
    rt.timer = setInterval(() => void rt.probe(), 5_000);
    rt.timer.unref();
    return rt;
  }

  private async probe(): Promise<void> {
    try {
      await this.redis.ping();
      this.gauge.set(1);
    } catch {
      this.gauge.set(0);
    }
  }

  readiness(): ReadinessCheck {
    return {
      name: 'redis',
      check: async () => {
        await this.redis.ping();
        await assertNoEviction(this.redis);
      },
    };
  }

  /**
   * The connection every BullMQ `Queue` handle of this process shares. BullMQ defines its ~64 Lua
   * scripts as commands on the connection it is given, and ioredis copies all of them onto every
   * pipeline it builds on that connection (76 µs per pipeline against 4 µs on a plain one, measured
   * in docs/performance.md). Herald's own commands stay on `redis`, which BullMQ never sees, and this
   * one has no auto-pipelining, which only costs BullMQ CPU. It fails fast like `redis`, so ingest
   * still answers 503 while Redis is down.
   */
  get queueConnection(): RedisClient {
    this.queueConn ??= this.track(createRedis(this.target, { name: 'queue', autoPipelining: false }), 'queue');
    return this.queueConn;
  }

  /** A new connection for BullMQ workers (blocking commands, retried forever) or pub/sub. */
  connection(kind: 'worker' | 'subscriber'): RedisClient {
    // A Worker runs BullMQ's scripts too; auto-pipelining would only copy them around.
    return this.track(createRedis(this.target, { forBullmqWorker: true, name: kind, autoPipelining: kind !== 'worker' }), kind);
  }

  private track(c: RedisClient, kind: string): RedisClient {
    c.on('error', (err) => this.logger.debug({ err: err.message, connection: kind }, 'Redis connection error'));
    this.extra.push(c);
    return c;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of [...this.extra, this.redis]) {
      await c.quit().catch(() => c.disconnect());
    }
  }
}
