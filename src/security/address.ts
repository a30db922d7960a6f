import { cidr, cidrContains, type Cidr } from './cidr.js';
import { formatIpv4, parseIp, type IpAddress } from './ip.js';

export { parseCidrList, parseCidr, type Cidr } from './cidr.js';
export { parseHostAsIp } from './ip.js';

/** Why an address is special. `metadata` is singled out because `allowPrivate` does not open it. */
export type AddressKind =
  | 'public'
  | 'invalid'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'metadata'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'unique-local'
  | 'transition';

/** The verdict of {@link classifyAddress}; `reason` is set exactly when `blocked`. */
export interface AddressClass {
  blocked: boolean;
  reason?: string;
  kind: AddressKind;
}

/**
 * Where deliveries may connect. Deny beats allow, allow beats classification, so an allow entry for
 * a cluster-internal receiver range cannot open the API server or Redis listed under `deny`.
 */
export interface AddressPolicy {
  /** Permit every non-public address except cloud metadata endpoints (for dev clusters). */
  allowPrivate: boolean;
  /** Ranges permitted even though they are not public, e.g. an in-cluster receiver's Service CIDR. */
  allow: readonly Cidr[];
  /** Ranges always refused, e.g. the Kubernetes API server and Redis addresses. */
  deny: readonly Cidr[];
}

/** The verdict of {@link checkAddress}. */
export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

interface Range {
  cidr: Cidr;
  kind: AddressKind;
  name: string;
}

const range = (text: string, kind: AddressKind, name: string): Range => ({ cidr: cidr(text), kind, name });

// First match wins, so single hosts with a sharper name come before the ranges containing them.
// Sources: IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and successors).
const V4_RANGES: readonly Range[] = [
  range('169.254.169.254/32', 'metadata', 'cloud metadata service (AWS, GCP, Azure, OCI)'),
  range('169.254.170.2/32', 'metadata', 'AWS ECS task metadata service'),
  range('100.100.100.200/32', 'metadata', 'Alibaba Cloud metadata service'),
  range('0.0.0.0/8', 'unspecified', '"this network" (0.0.0.0/8; reaches the local host on Linux)'),
  range('10.0.0.0/8', 'private', 'private network (10.0.0.0/8, RFC 1918)'),
  range('100.64.0.0/10', 'shared', 'carrier-grade NAT shared space (100.64.0.0/10)'),
  range('127.0.0.0/8', 'loopback', 'loopback (127.0.0.0/8)'),
  range('169.254.0.0/16', 'link-local', 'link-local (169.254.0.0/16)'),
  range('172.16.0.0/12', 'private', 'private network (172.16.0.0/12, RFC 1918)'),
  range('192.0.0.0/24', 'reserved', 'IETF protocol assignments (192.0.0.0/24)'),
  range('192.0.2.0/24', 'documentation', 'documentation range TEST-NET-1 (192.0.2.0/24)'),
  range('192.88.99.0/24', 'reserved', 'deprecated 6to4 relay anycast (192.88.99.0/24)'),
  range('192.168.0.0/16', 'private', 'private network (192.168.0.0/16, RFC 1918)'),
  range('198.18.0.0/15', 'benchmarking', 'benchmarking range (198.18.0.0/15)'),
  range('198.51.100.0/24', 'documentation', 'documentation range TEST-NET-2 (198.51.100.0/24)'),
  range('203.0.113.0/24', 'documentation', 'documentation range TEST-NET-3 (203.0.113.0/24)'),
  range('224.0.0.0/4', 'multicast', 'multicast (224.0.0.0/4)'),
  range('255.255.255.255/32', 'broadcast', 'limited broadcast (255.255.255.255)'),
  range('240.0.0.0/4', 'reserved', 'reserved for future use (240.0.0.0/4)'),
];

const V6_RANGES: readonly Range[] = [
  range('fd00:ec2::254/128', 'metadata', 'AWS IPv6 metadata service (fd00:ec2::254)'),
  range('::/128', 'unspecified', 'unspecified address (::)'),
  range('::1/128', 'loopback', 'loopback (::1)'),
  range('64:ff9b:1::/48', 'transition', 'local-use NAT64 prefix (64:ff9b:1::/48) whose embedded IPv4 cannot be located'),
  range('2001::/32', 'transition', 'Teredo tunnelling (2001::/32)'),
  range('2001:2::/48', 'benchmarking', 'benchmarking range (2001:2::/48)'),
  range('2001:10::/28', 'reserved', 'deprecated ORCHID (2001:10::/28)'),
  range('2001:20::/28', 'reserved', 'ORCHIDv2 (2001:20::/28)'),
  range('2001:db8::/32', 'documentation', 'documentation range (2001:db8::/32)'),
  range('3fff::/20', 'documentation', 'documentation range (3fff::/20)'),
  range('100::/64', 'reserved', 'discard-only range (100::/64)'),
  range('5f00::/16', 'reserved', 'SRv6 SIDs (5f00::/16)'),
  range('fc00::/7', 'unique-local', 'unique local address (fc00::/7)'),
  range('fe80::/10', 'link-local', 'link-local (fe80::/10)'),
  range('fec0::/10', 'link-local', 'deprecated site-local (fec0::/10)'),
  range('ff00::/8', 'multicast', 'multicast (ff00::/8)'),
];

const GLOBAL_UNICAST = cidr('2000::/3');

/** IPv6 ranges that carry an IPv4 address; the address is judged by the IPv4 it leads to. */
const V4_EMBEDDINGS: readonly { cidr: Cidr; name: string; extract: (v: bigint) => bigint }[] = [
  { cidr: cidr('::ffff:0:0/96'), name: 'IPv4-mapped address', extract: (v) => v & 0xffffffffn },
  { cidr: cidr('::ffff:0:0:0/96'), name: 'IPv4-translated address', extract: (v) => v & 0xffffffffn },
  { cidr: cidr('64:ff9b::/96'), name: 'NAT64 address', extract: (v) => v & 0xffffffffn },
  { cidr: cidr('2002::/16'), name: '6to4 address', extract: (v) => (v >> 80n) & 0xffffffffn },
];

// After :: and ::1 are handled, the rest of ::/96 is the deprecated IPv4-compatible form. Nothing
// legitimate uses it, so it is refused outright rather than judged by its embedded address.
const V4_COMPATIBLE = cidr('::/96');

/**
 * Classifies an IP literal for the SSRF guard: everything that is not a globally reachable unicast
 * address is blocked, with a reason naming the range. IPv6 forms that lead to an IPv4 address
 * (IPv4-mapped, IPv4-translated, NAT64 64:ff9b::/96, 6to4) are judged by the embedded IPv4, so
 * `::ffff:127.0.0.1` is loopback while DNS64-synthesised `64:ff9b::8.8.8.8` stays deliverable on
 * IPv6-only clusters. IPv6 outside 2000::/3 that no rule names is blocked as not global unicast.
 * Input that is not an IP literal is blocked (`kind: 'invalid'`): the guard fails closed.
 */
export function classifyAddress(ip: string): AddressClass {
  const addr = parseIp(ip);
  if (addr === undefined) return { blocked: true, kind: 'invalid', reason: `"${ip}" is not an IP address` };
  return addr.family === 4 ? classifyV4(addr.value) : classifyV6(addr);
}

/**
 * Applies a policy to a resolved address: deny entries first, then allow entries, then
 * {@link classifyAddress}, with `allowPrivate` permitting everything but cloud metadata endpoints
 * (opening private ranges for a dev cluster should not also hand out instance credentials; list
 * the metadata address under `allow` if that is really wanted). IPv4 ranges in the policy also
 * match the same address written as IPv4-mapped IPv6, and deny entries match any IPv4 an IPv6
 * address embeds.
 */
export function checkAddress(ip: string, policy: AddressPolicy): AddressVerdict {
  const addr = parseIp(ip);
  if (addr === undefined) return { allowed: false, reason: `"${ip}" is not an IP address` };
  const denied = policy.deny.find((c) => [addr, ...embeddedV4(addr)].some((a) => cidrContains(c, a)));
  if (denied) return { allowed: false, reason: `denied by policy (${denied.text})` };
  // An IPv4-mapped address is the same endpoint as its IPv4; other embeddings go through a translator.
  const sameAddress: IpAddress[] = isMapped(addr) ? [addr, { family: 4, value: addr.value & 0xffffffffn }] : [addr];
  if (policy.allow.some((c) => sameAddress.some((a) => cidrContains(c, a)))) return { allowed: true };
  const verdict = classifyAddress(ip);
  if (!verdict.blocked) return { allowed: true };
  if (policy.allowPrivate && verdict.kind !== 'metadata') return { allowed: true };
  return { allowed: false, reason: verdict.reason ?? verdict.kind };
}

function classifyV4(value: bigint): AddressClass {
  const addr: IpAddress = { family: 4, value };
  const hit = V4_RANGES.find((r) => cidrContains(r.cidr, addr));
  return hit ? { blocked: true, kind: hit.kind, reason: hit.name } : { blocked: false, kind: 'public' };
}

function classifyV6(addr: IpAddress): AddressClass {
  const hit = V6_RANGES.find((r) => cidrContains(r.cidr, addr));
  if (hit) return { blocked: true, kind: hit.kind, reason: hit.name };
  for (const e of V4_EMBEDDINGS) {
    if (!cidrContains(e.cidr, addr)) continue;
    const v4 = e.extract(addr.value);
    const inner = classifyV4(v4);
    if (!inner.blocked) return { blocked: false, kind: 'public' };
    return { blocked: true, kind: inner.kind, reason: `${e.name} of ${formatIpv4(v4)}: ${inner.reason}` };
  }
  if (cidrContains(V4_COMPATIBLE, addr)) {
    const v4 = formatIpv4(addr.value & 0xffffffffn);
    return { blocked: true, kind: 'transition', reason: `deprecated IPv4-compatible address (::${v4}, ::/96)` };
  }
  if (!cidrContains(GLOBAL_UNICAST, addr)) {
    return { blocked: true, kind: 'reserved', reason: 'not global unicast (outside 2000::/3)' };
  }
  return { blocked: false, kind: 'public' };
}

function isMapped(addr: IpAddress): boolean {
  return cidrContains(V4_EMBEDDINGS[0]!.cidr, addr);
}

function embeddedV4(addr: IpAddress): IpAddress[] {
  if (addr.family === 4) return [];
  return V4_EMBEDDINGS.filter((e) => cidrContains(e.cidr, addr)).map((e) => ({ family: 4, value: e.extract(addr.value) }));
}
