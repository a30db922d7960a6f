import { isIPv4, isIPv6 } from 'node:net';

/**
 * An IP address as an unsigned integer: 32 bits for IPv4, 128 bits for IPv6. A bigint for both
 * families keeps prefix arithmetic identical and avoids the sign surprises of 32-bit bitwise ops.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/**
 * Parses a canonical IP literal as `net.isIP` accepts it (dotted-quad IPv4, any IPv6 spelling,
 * optionally with a `%zone`). Returns `undefined` for anything else, including the numeric host
 * spellings of URLs (`2130706433`); use {@link parseHostAsIp} for hosts.
 */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 4, value: parseDottedQuad(text) };
  // The zone only says which interface to use; it does not change which address is reached.
  const withoutZone = text.split('%', 1)[0] ?? '';
  if (isIPv6(text) && isIPv6(withoutZone)) return { family: 6, value: parseIpv6(withoutZone) };
  return undefined;
}

/** Formats a 32-bit value as dotted-quad IPv4. */
export function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** Canonical text of an address: dotted quad, or RFC 5952 compressed IPv6 via the WHATWG URL serializer. */
export function formatIp(addr: IpAddress): string {
  if (addr.family === 4) return formatIpv4(addr.value);
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((addr.value >> shift) & 0xffffn).toString(16));
  return canonicalIpv6(groups.join(':'));
}

/**
 * Recognises a URL host that denotes an IP address and returns the address in canonical form, or
 * `undefined` for a DNS name. Accepts bracketed or bare IPv6 and every IPv4 spelling the WHATWG URL
 * host parser accepts (the same family inet_aton accepts): one to four dot-separated parts, each
 * decimal, octal with a leading `0` or hex with `0x`, the last part filling the remaining bytes, and
 * an optional trailing dot. So `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` all give
 * `127.0.0.1`. Checking only dotted quads is how SSRF filters get bypassed.
 */
export function parseHostAsIp(host: string): string | undefined {
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    return isIPv6(inner) && !inner.includes('%') ? canonicalIpv6(inner) : undefined;
  }
  if (isIPv6(host)) return canonicalIpv6(host.split('%', 1)[0] ?? host);
  const value = parseWhatwgIpv4(host);
  return value === undefined ? undefined : formatIpv4(value);
}

function parseDottedQuad(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(part), 0n);
}

/** Parses an IPv6 literal already validated by `isIPv6` (so the structure is trusted). */
function parseIpv6(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const toGroups = (part: string): bigint[] => {
    if (part === '') return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [BigInt(`0x${g}`)];
      const v4 = parseDottedQuad(g);
      return [v4 >> 16n, v4 & 0xffffn];
    });
  };
  const left = toGroups(head);
  const right = tail === undefined ? [] : toGroups(tail);
  const zeros: bigint[] = Array(8 - left.length - right.length).fill(0n);
  return [...left, ...zeros, ...right].reduce((acc, g) => (acc << 16n) | g, 0n);
}

function canonicalIpv6(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/**
 * The WHATWG "IPv4 parser" (https://url.spec.whatwg.org/#concept-ipv4-parser). Returns the 32-bit
 * value, or `undefined` when the host is not an IPv4 address in any spelling.
 */
function parseWhatwgIpv4(host: string): bigint | undefined {
  const parts = host.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return undefined;
  const numbers: bigint[] = [];
  for (const part of parts) {
    const n = parseIpv4Number(part);
    if (n === undefined) return undefined;
    numbers.push(n);
  }
  const last = numbers.pop() as bigint;
  if (numbers.some((n) => n > 255n)) return undefined;
  if (last >= 256n ** BigInt(5 - parts.length)) return undefined;
  return numbers.reduce((acc, n, i) => acc + n * 256n ** BigInt(3 - i), last);
}

function parseIpv4Number(part: string): bigint | undefined {
  if (part === '') return undefined;
  let digits = part;
  let radix: 8 | 10 | 16 = 10;
  if (/^0x/i.test(digits)) {
    radix = 16;
    digits = digits.slice(2);
  } else if (digits.length > 1 && digits.startsWith('0')) {
    radix = 8;
    digits = digits.slice(1);
  }
  if (digits === '') return 0n;
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return undefined;
  return BigInt(radix === 16 ? `0x${digits}` : radix === 8 ? `0o${digits}` : digits);
}
