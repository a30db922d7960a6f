import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { checkAddress, parseHostAsIp, type AddressPolicy, type AddressVerdict } from './address.js';
import { BlockedAddressError } from './errors.js';
import { systemResolver, type ResolvedAddress, type Resolver } from './resolver.js';

/** Options of {@link createDeliveryAgent}. */
export interface DeliveryAgentOptions {
  /** Which resolved addresses deliveries may connect to. */
  policy: AddressPolicy;
  /** Maximum open sockets per destination origin. */
  connections: number;
  /** How long an idle keep-alive socket is kept, in milliseconds. */
  keepAliveTimeoutMs: number;
  /** TCP + TLS handshake limit in milliseconds. Default 10 000. */
  connectTimeoutMs?: number;
  /** TLS settings; certificates are verified unless `rejectUnauthorized` is false. */
  tls?: { rejectUnauthorized: boolean };
  /** Name resolution; defaults to getaddrinfo via {@link systemResolver}. */
  resolver?: Resolver;
}

/**
 * Builds the undici dispatcher deliveries go through. undici's Agent already keeps one connection
 * pool per origin (so per destination); what this adds is the SSRF guard inside `connect`. The check
 * runs on the address the socket is about to use, at connect time: a check made when the destination
 * was admitted, or a separate DNS query before the request, can be defeated by DNS rebinding (a name
 * that answers with a public address first and 127.0.0.1 a second later). Literal IP hosts never
 * reach a resolver, so they are checked directly. Refusals fail the request with
 * {@link BlockedAddressError}.
 */
export function createDeliveryAgent(opts: DeliveryAgentOptions): Agent {
  return new Agent({
    connections: opts.connections,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    connect: guardedConnector(opts),
  });
}

/** The connector {@link createDeliveryAgent} installs; exported for callers building their own Pool or Client. */
export function guardedConnector(
  opts: Pick<DeliveryAgentOptions, 'policy' | 'connectTimeoutMs' | 'tls' | 'resolver'>,
): buildConnector.connector {
  const connect = buildConnector({
    timeout: opts.connectTimeoutMs ?? 10_000,
    rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
    lookup: guardedLookup(opts.policy, opts.resolver),
  });
  return (options, callback) => {
    // undici hands over the WHATWG-normalised hostname with IPv6 brackets removed, so numeric
    // spellings such as 2130706433 arrive here as 127.0.0.1; parseHostAsIp also copes if they do not.
    const literal = parseHostAsIp(options.hostname);
    if (literal !== undefined) {
      const verdict = checkAddress(literal, opts.policy);
      if (!verdict.allowed) {
        const err = new BlockedAddressError(options.hostname, literal, verdict.reason);
        queueMicrotask(() => callback(err, null));
        return;
      }
    }
    connect(options, callback);
  };
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that resolves with `resolver` and fails with
 * {@link BlockedAddressError} if any address is refused. Refusing the whole answer rather than
 * filtering it keeps the outcome independent of which address the socket would have tried first.
 */
export function guardedLookup(policy: AddressPolicy, resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    judge(hostname, policy, resolver).then(
      (judged) => {
        const blocked = judged.find((j) => !j.verdict.allowed);
        if (blocked && !blocked.verdict.allowed) {
          return callback(new BlockedAddressError(hostname, blocked.address, blocked.verdict.reason), '');
        }
        const family = familyOf(options.family);
        const usable = judged.filter((j) => family === 0 || j.family === family);
        const first = usable[0];
        if (first === undefined) return callback(notFound(hostname), '');
        if (options.all) return callback(null, usable.map(({ address, family }) => ({ address, family })));
        return callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

/** Result of {@link validateDestinationUrl}. */
export type DestinationUrlCheck =
  | { ok: true; host: string; addresses: string[]; warning?: string }
  | { ok: false; host: string; reason: string; blocked: { address: string; reason: string }[] };

/**
 * Admission-time check of a destination URL, for fast feedback in a Destination's status. Refuses
 * non-http(s) URLs, literal hosts in any numeric spelling and names resolving to a refused address.
 * A name that does not resolve yet is accepted with a warning: DNS may be created after the
 * Destination. This check is advisory; the connect-time guard of {@link createDeliveryAgent} is
 * what enforces the policy. Never throws.
 */
export async function validateDestinationUrl(
  url: string | URL,
  policy: AddressPolicy,
  resolver: Resolver = systemResolver,
): Promise<DestinationUrlCheck> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, host: '', reason: `"${String(url)}" is not a valid URL`, blocked: [] };
  }
  const host = parsed.hostname;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, host, reason: `scheme "${parsed.protocol}" is not allowed; use http or https`, blocked: [] };
  }
  const literal = parseHostAsIp(host);
  let judged: Judged[];
  if (literal !== undefined) {
    judged = [{ address: literal, family: literal.includes(':') ? 6 : 4, verdict: checkAddress(literal, policy) }];
  } else {
    try {
      judged = await judge(host, policy, resolver);
    } catch (err) {
      return { ok: true, host, addresses: [], warning: `could not resolve ${host}: ${(err as Error).message}` };
    }
  }
  const blocked = judged.flatMap((j) => (j.verdict.allowed ? [] : [{ address: j.address, reason: j.verdict.reason }]));
  if (blocked.length > 0) {
    const list = blocked.map((b) => `${b.address} (${b.reason})`).join(', ');
    return { ok: false, host, reason: `${host} resolves to refused addresses: ${list}`, blocked };
  }
  return { ok: true, host, addresses: judged.map((j) => j.address) };
}

interface Judged extends ResolvedAddress {
  verdict: AddressVerdict;
}

async function judge(hostname: string, policy: AddressPolicy, resolver: Resolver): Promise<Judged[]> {
  const addresses = await resolver(hostname);
  return addresses.map((a) => ({ ...a, verdict: checkAddress(a.address, policy) }));
}

function familyOf(family: number | 'IPv4' | 'IPv6' | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}
