import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import type { EventLogEntry } from '../../src/api/event-log.js';
import { runHerald } from '../support/cli.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { always, failTimes, ok, startReceiver, type Receiver } from '../support/receiver.js';
import { keysMatching, startTestRedis, targetEnv, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { waitFor } from '../support/wait.js';

// One key per tenant, and two for one tenant limited to different types.
const SHOP_KEY = 'hk_shop_key_for_event_log_tests_0123456789abcdef';
const ACME_ORDERS_KEY = 'hk_acme_orders_key_for_event_log_tests_01234567';
const ACME_INVOICES_KEY = 'hk_acme_invoices_key_for_event_log_tests_012345';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let redis: TestRedis;
let herald: HeraldUnderTest<RedisClient>;
let dir: string;
const receivers: Receiver[] = [];

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  redis = await startTestRedis();
  dir = await mkdtemp(join(tmpdir(), 'herald-event-log-'));
  const keysFile = join(dir, 'keys.json');
  await writeFile(
    keysFile,
    JSON.stringify([
      { name: 'shop', hash: hashApiKey(SHOP_KEY) },
      { name: 'acme', hash: hashApiKey(ACME_ORDERS_KEY), types: ['order.*'] },
      { name: 'acme', hash: hashApiKey(ACME_INVOICES_KEY), types: ['invoice.*'] },
    ]),
  );
  herald = await startHerald({ ...redis.target, env: { HERALD_API_KEYS_FILE: keysFile, HERALD_INGEST_AUTH: 'required' } });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await redis?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function send(type: string, key = SHOP_KEY): Promise<string> {
  const res = await herald.post({ userID: 'u1', payload: { n: 1 }, type }, bearer(key));
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function get(path: string, key: string | null = SHOP_KEY): Promise<{ status: number; body: any }> {
  const res = await fetch(herald.url + path, { headers: key ? bearer(key) : {} });
  return { status: res.status, body: await res.json() };
}

const byDestination = (e: EventLogEntry) => Object.fromEntries(e.deliveries.map((d) => [d.destination, d]));

/** Waits until event `id` is delivered at `destination` in the log, as `key` sees it. */
async function delivered(id: string, destination: string, key = SHOP_KEY): Promise<EventLogEntry> {
  return waitFor(async () => {
    const r = await get(`/events/${id}`, key);
    const e = r.status === 200 ? (r.body as EventLogEntry) : undefined;
    return e?.deliveries.some((d) => d.destination === destination && d.state === 'delivered') ? e : undefined;
  }, { what: `event ${id} delivered to ${destination} in the log` });
}

describe('the delivery log of one event', () => {
  let id: string;
  let entry: EventLogEntry;

  beforeAll(async () => {
    const good = await receiver(ok);
    const flaky = await receiver(failTimes(1, 503));
    const broken = await receiver(() => ({ status: 400, body: 'bad request: the payload is not an invoice' }));
    const later = await receiver(always(503));
    const held = await receiver(ok);
    const users = await receiver(ok);
    const fast = { schedule: ['50ms'], maxAttempts: 5, initialDelay: '50ms' };
    await herald.publish('good', { url: good.url, filter: { types: ['order.*'] } });
    await herald.publish('flaky', { url: flaky.url, filter: { types: ['order.*'] }, retry: fast });
    await herald.publish('broken', { url: broken.url, filter: { types: ['order.*'] }, retry: fast });
    await herald.publish('later', { url: later.url, filter: { types: ['order.*'] }, retry: { schedule: ['1h'], maxAttempts: 5 } });
    await herald.publish('held', { url: held.url, filter: { types: ['order.*'] }, paused: true });
    await herald.publish('users', { url: users.url, filter: { types: ['user.*'] } });
    id = await send('order.created');
    entry = await waitFor(async () => {
      const r = await get(`/events/${id}`);
      const d = r.status === 200 ? byDestination(r.body as EventLogEntry) : {};
      const settled = d.good?.state === 'delivered' && d.flaky?.state === 'delivered' && d.broken?.state === 'dead' && d.later?.state === 'retrying';
      return settled ? (r.body as EventLogEntry) : undefined;
    }, { what: 'every destination of the event to settle in the log' });
  });

  it('records a delivery that succeeded at once: one attempt with status and duration', () => {
    expect(entry).toMatchObject({ id, type: 'order.created', producer: 'shop' });
    expect(Date.parse(entry.acceptedAt)).toBeGreaterThan(0);
    const d = byDestination(entry).good!;
    expect(d).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(d.history).toHaveLength(1);
    expect(d.history![0]).toMatchObject({ attempt: 1, status: 200 });
    expect(d.history![0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(d.history![0]!.at)).toBeGreaterThanOrEqual(Date.parse(entry.acceptedAt));
  });

  it('records a retried delivery: the failed attempt, then the one that succeeded', () => {
    const d = byDestination(entry).flaky!;
    expect(d).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(d.history!.map((a) => [a.attempt, a.status])).toEqual([[1, 503], [2, 200]]);
    expect(d.history![0]!.error).toMatch(/503/);
  });

  it('records a dead letter with the receiver\'s answer', () => {
    const d = byDestination(entry).broken!;
    expect(d).toMatchObject({ state: 'dead', attempts: 1 });
    expect(d.history![0]).toMatchObject({ attempt: 1, status: 400, response: 'bad request: the payload is not an invoice' });
  });

  it('shows a delivery waiting for its retry with the time of the next attempt', () => {
    const d = byDestination(entry).later!;
    expect(d.state).toBe('retrying');
    expect(d.attempts).toBe(1);
    expect(Date.parse(d.nextAttemptAt!)).toBeGreaterThan(Date.parse(d.history![0]!.at));
  });

  it('shows a paused destination\'s event as paused, and a filtered one as skipped by its filter', () => {
    expect(byDestination(entry).held).toMatchObject({ state: 'paused', attempts: 0 });
    expect(byDestination(entry).users).toEqual({ destination: 'users', state: 'filtered', attempts: 0 });
  });

  it('lists the event by destination and state, and keeps every key it writes under a TTL', async () => {
    const dead = await get('/events?destination=broken&status=dead');
    expect(dead.status).toBe(200);
    expect(dead.body.items.map((e: EventLogEntry) => e.id)).toContain(id);
    expect(dead.body.items[0].deliveries).toEqual([expect.objectContaining({ destination: 'broken', state: 'dead' })]);
    const paused = await get('/events?status=paused');
    expect(paused.body.items.map((e: EventLogEntry) => e.id)).toContain(id);
    const none = await get('/events?destination=good&status=dead');
    expect(none.body.items.map((e: EventLogEntry) => e.id)).not.toContain(id);
    const keys = await keysMatching(herald.redis, `${herald.config.HERALD_REDIS_PREFIX}*evlog*`);
    expect(keys.length).toBeGreaterThan(0);
    const ttls = await Promise.all(keys.map((k) => herald.redis.pttl(k)));
    expect(keys.filter((_, i) => !(ttls[i]! > 0))).toEqual([]);
  });

  it('is gone once its destination\'s retention has passed', async () => {
    const brief = await receiver(ok);
    await herald.publish('brief', { url: brief.url, filter: { types: ['brief.*'] }, eventLog: { retention: '2s' } });
    const short = await send('brief.sent');
    await delivered(short, 'brief');
    const gone = await waitFor(async () => {
      const r = await get(`/events/${short}`);
      return r.status === 404 ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the event to expire from the log' });
    expect(gone.body.error.code).toBe('event_not_found');
    const p = herald.config.HERALD_REDIS_PREFIX;
    // The record's bucket outlives the event's retention by at most a second.
    await waitFor(async () => (await keysMatching(herald.redis, `${p}:{d:brief}:evlog:*`)).length === 0, { timeoutMs: 20_000, what: 'the records to expire' });
    await waitFor(async () => (await herald.redis.exists(`${p}:{d:brief}:evlog`)) === 0, { timeoutMs: 20_000, what: 'the index to expire' });
  });
});

describe('GET /events paging', () => {
  it('pages newest first with an opaque cursor, every event once, until no next', async () => {
    const sink = await receiver(ok);
    await herald.publish('pages', { url: sink.url, filter: { types: ['page.*'] } });
    // A batch is accepted in one millisecond: the cursor must order ties.
    const events = Array.from({ length: 5 }, (_, i) => ({ userID: 'u', payload: i, type: 'page.batch' }));
    const batch = await herald.postRaw(JSON.stringify(events), bearer(SHOP_KEY), '/ingest/batch');
    expect(batch.status).toBe(202);
    const singles = [await send('page.one'), await send('page.two')];
    const all = new Set<string>([...batch.body.results.map((r: { id: string }) => r.id), ...singles]);
    for (const id of all) await delivered(id, 'pages');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await get(`/events?destination=pages&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.items.map((e: EventLogEntry) => e.id));
      cursor = r.body.next;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(all);
    expect(pages).toBe(3);
    // Newest first: the two singles were accepted after the batch.
    expect(seen.slice(0, 2).sort()).toEqual([...singles].sort());
  });

  it('filters by type glob and time window', async () => {
    const typed = await get('/events?destination=pages&type=page.t*');
    expect(typed.body.items.map((e: EventLogEntry) => e.type)).toEqual(['page.two']);
    const future = await get(`/events?destination=pages&since=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body).toEqual({ items: [] });
  });

  it.each([
    ['limit=0', 'invalid_query', /limit/],
    ['limit=501', 'invalid_query', /limit/],
    ['status=lost', 'invalid_query', /status/],
    ['since=yesterday', 'invalid_query', /since/],
    ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'invalid_query', /since must be before until/],
    ['destination=Not_A_Name', 'invalid_query', /destination/],
    ['colour=red', 'invalid_query', /colour/],
    ['limit=1&limit=2', 'invalid_query', /limit is given more than once/],
    ['cursor=bm90LWEtY3Vyc29y', 'invalid_cursor', /cursor/],
  ])('answers 400 with what is wrong for %s', async (query, code, message) => {
    const r = await get(`/events?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toMatch(message);
  });
});

describe('who sees which events', () => {
  let shopEvent: string;
  let acmeOrder: string;
  let acmeInvoice: string;

  beforeAll(async () => {
    const sink = await receiver(ok);
    await herald.publish('tenants', { url: sink.url, filter: { types: ['order.*', 'invoice.*'] } });
    shopEvent = await send('order.placed', SHOP_KEY);
    acmeOrder = await send('order.placed', ACME_ORDERS_KEY);
    acmeInvoice = await send('invoice.paid', ACME_INVOICES_KEY);
    await delivered(shopEvent, 'tenants', SHOP_KEY);
    await delivered(acmeOrder, 'tenants', ACME_ORDERS_KEY);
    await delivered(acmeInvoice, 'tenants', ACME_INVOICES_KEY);
  });

  it('a key sees the events of its own tenant and types; any other id is a 404 like one never sent', async () => {
    expect((await get(`/events/${shopEvent}`, SHOP_KEY)).status).toBe(200);
    expect((await get(`/events/${acmeOrder}`, SHOP_KEY)).status).toBe(404);
    expect((await get(`/events/${acmeInvoice}`, SHOP_KEY)).status).toBe(404);
    expect((await get(`/events/${acmeOrder}`, ACME_ORDERS_KEY)).status).toBe(200);
    expect((await get(`/events/${acmeInvoice}`, ACME_ORDERS_KEY)).status).toBe(404);
    expect((await get(`/events/${shopEvent}`, ACME_ORDERS_KEY)).status).toBe(404);
    expect((await get(`/events/${acmeInvoice}`, ACME_INVOICES_KEY)).status).toBe(200);
    const never = await get('/events/evt_00000000000000000000000000000000', ACME_INVOICES_KEY);
    const other = await get(`/events/${acmeOrder}`, ACME_INVOICES_KEY);
    expect(other).toEqual({ status: 404, body: { error: { ...never.body.error, message: never.body.error.message.replace('evt_00000000000000000000000000000000', acmeOrder) } } });
  });

  it('a list shows only what the key may see', async () => {
    const ids = async (key: string) => ((await get('/events?destination=tenants', key)).body.items as EventLogEntry[]).map((e) => e.id);
    expect(await ids(ACME_ORDERS_KEY)).toEqual([acmeOrder]);
    expect(await ids(ACME_INVOICES_KEY)).toEqual([acmeInvoice]);
    expect(await ids(SHOP_KEY)).toEqual([shopEvent]);
  });

  it('401 without a key, before anything is read', async () => {
    for (const path of [`/events/${shopEvent}`, '/events']) {
      const r = await get(path, null);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('HERALD_AUTH_MISSING');
    }
  });

  it('an id that is not one is a 400', async () => {
    const r = await get('/events/not%20an%20id');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_event_id');
  });
});

describe('herald events', () => {
  const env = () => ({ ...targetEnv(redis.target), HERALD_REDIS_PREFIX: herald.config.HERALD_REDIS_PREFIX });
  let id: string;

  beforeAll(async () => {
    const sink = await receiver(failTimes(1, 502));
    await herald.publish('cli', { url: sink.url, filter: { types: ['cli.*'] }, retry: { schedule: ['50ms'], maxAttempts: 3 } });
    id = await send('cli.shown');
    await delivered(id, 'cli');
  });

  it('show prints the event, a table of destinations and each attempt', async () => {
    const r = await runHerald(['events', 'show', id], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`event ${id}`);
    expect(r.stdout).toMatch(/type\s+cli\.shown/);
    expect(r.stdout).toMatch(/^cli\s+delivered\s+2\s+HTTP 200 at /m);
    expect(r.stdout).toMatch(/#1 .* HTTP 502/);
    expect(r.stdout).toMatch(/#2 .* HTTP 200/);
    const json = JSON.parse((await runHerald(['events', 'show', id, '--json'], env())).stdout) as EventLogEntry;
    expect(json.deliveries.find((d) => d.destination === 'cli')).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('list prints a table and the command for the next page; --json gives the page', async () => {
    const r = await runHerald(['events', 'list', '--destination', 'cli', '--limit', '1'], env());
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ACCEPTED\s+TYPE\s+DELIVERIES$/);
    expect(lines[1]).toMatch(new RegExp(`^${id}\\s+\\S+Z\\s+cli\\.shown\\s+cli:delivered\\(2\\)$`));
    expect(lines).toHaveLength(2);
    const json = JSON.parse((await runHerald(['events', 'list', '--status', 'delivered', '--type', 'cli.*', '--json'], env())).stdout) as { items: EventLogEntry[] };
    expect(json.items.map((e) => e.id)).toEqual([id]);
  });

  it('an unknown event exits 1 in one line; a wrong flag exits 2 with the usage', async () => {
    const unknown = await runHerald(['events', 'show', 'evt_00000000000000000000000000000000'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('herald events: no event evt_00000000000000000000000000000000 in the delivery log (never accepted, or past its retention)\n');
    const bad = await runHerald(['events', 'list', '--status', 'lost'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^herald events: --status: /);
    expect(bad.stderr).toContain('Usage: herald events');
    const help = await runHerald(['events', '--help'], env());
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('herald events list --destination billing --status retrying');
  });
});
