import { formatIp, parseIp, type IpAddress } from './ip.js';
import { InvalidCidrError } from './errors.js';

/** A parsed CIDR block such as `10.0.0.0/8` or `fd00::/8`; `text` is kept for messages. */
export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
}

/**
 * Parses one CIDR block; a bare address means a single host (/32 or /128). Returns a problem
 * description instead of throwing so {@link parseCidrList} can report every bad entry at once.
 * Host bits must be zero: `192.168.1.10/16` is more likely a typo for `/32` than a wish for the
 * whole /16, so it is refused with the network it would have meant.
 */
export function parseCidr(text: string): Cidr | string {
  const trimmed = text.trim();
  const [addrText = '', prefixText, ...rest] = trimmed.split('/');
  const addr = parseIp(addrText);
  if (addr === undefined || addrText.includes('%') || rest.length > 0) {
    return `"${text}" is not an IP address or CIDR block`;
  }
  const bits = addr.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) {
    return `"${text}" has an invalid prefix length; IPv${addr.family} prefixes are 0-${bits}`;
  }
  const network = addr.value & mask(bits, prefix);
  if (network !== addr.value) {
    const meant = formatIp({ family: addr.family, value: network });
    return `"${text}" has host bits set; write ${meant}/${prefix} for the network or ${addrText}/${bits} for one host`;
  }
  return { text: trimmed, family: addr.family, network, prefix };
}

/**
 * Parses a list of CIDR blocks (e.g. from configuration).
 * @throws InvalidCidrError listing every bad entry, not just the first.
 */
export function parseCidrList(list: readonly string[]): Cidr[] {
  const parsed = list.map(parseCidr);
  const problems = parsed.filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new InvalidCidrError(problems);
  return parsed as Cidr[];
}

/** Whether `addr` lies in `cidr`. Families never match each other; callers unwrap IPv4-mapped IPv6 first. */
export function cidrContains(cidr: Cidr, addr: IpAddress): boolean {
  if (cidr.family !== addr.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  return (addr.value & mask(bits, cidr.prefix)) === cidr.network;
}

/** Parses a CIDR that is part of the program (a constant table), throwing on a typo. */
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new InvalidCidrError([parsed]);
  return parsed;
}

function mask(bits: number, prefix: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}
