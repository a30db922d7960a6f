import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkAddress,
  classifyAddress,
  parseCidr,
  parseCidrList,
  parseHostAsIp,
  type AddressPolicy,
} from '../../../src/security/address.js';
import { cidrContains } from '../../../src/security/cidr.js';
import { InvalidCidrError } from '../../../src/security/errors.js';
import { formatIp, parseIp } from '../../../src/security/ip.js';

const strict: AddressPolicy = { allowPrivate: false, allow: [], deny: [] };

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback', '127.0.0.0/8'],
    ['127.255.255.254', 'loopback', '127.0.0.0/8'],
    ['0.0.0.0', 'unspecified', '0.0.0.0/8'],
    ['0.1.2.3', 'unspecified', '0.0.0.0/8'],
    ['10.0.0.1', 'private', 'RFC 1918'],
    ['172.16.0.1', 'private', '172.16.0.0/12'],
    ['172.31.255.255', 'private', '172.16.0.0/12'],
    ['192.168.1.1', 'private', '192.168.0.0/16'],
    ['169.254.0.1', 'link-local', '169.254.0.0/16'],
    ['169.254.169.254', 'metadata', 'cloud metadata'],
    ['169.254.170.2', 'metadata', 'ECS'],
    ['100.100.100.200', 'metadata', 'Alibaba'],
    ['100.64.0.1', 'shared', '100.64.0.0/10'],
    ['100.127.255.255', 'shared', '100.64.0.0/10'],
    ['224.0.0.1', 'multicast', '224.0.0.0/4'],
    ['239.255.255.250', 'multicast', '224.0.0.0/4'],
    ['240.0.0.1', 'reserved', '240.0.0.0/4'],
    ['255.255.255.255', 'broadcast', 'broadcast'],
    ['198.18.0.1', 'benchmarking', '198.18.0.0/15'],
    ['198.19.255.255', 'benchmarking', '198.18.0.0/15'],
    ['192.0.2.10', 'documentation', 'TEST-NET-1'],
    ['198.51.100.7', 'documentation', 'TEST-NET-2'],
    ['203.0.113.9', 'documentation', 'TEST-NET-3'],
    ['192.0.0.170', 'reserved', 'IETF protocol assignments'],
    ['192.88.99.1', 'reserved', '6to4 relay'],
  ])('blocks IPv4 %s as %s', (ip, kind, reasonPart) => {
    const verdict = classifyAddress(ip);
    expect(verdict).toMatchObject({ blocked: true, kind });
    expect(verdict.reason).toContain(reasonPart);
  });

  it.each([
    ['::1', 'loopback', '::1'],
    ['0:0:0:0:0:0:0:1', 'loopback', '::1'],
    ['::', 'unspecified', '::'],
    ['fc00::1', 'unique-local', 'fc00::/7'],
    ['fd12:3456::1', 'unique-local', 'fc00::/7'],
    ['fe80::1', 'link-local', 'fe80::/10'],
    ['fe80::1%eth0', 'link-local', 'fe80::/10'],
    ['febf:ffff::1', 'link-local', 'fe80::/10'],
    ['fec0::1', 'link-local', 'site-local'],
    ['ff02::1', 'multicast', 'ff00::/8'],
    ['fd00:ec2::254', 'metadata', 'AWS IPv6 metadata'],
    ['::ffff:127.0.0.1', 'loopback', 'IPv4-mapped address of 127.0.0.1'],
    ['::ffff:7f00:1', 'loopback', 'IPv4-mapped address of 127.0.0.1'],
    ['::ffff:169.254.169.254', 'metadata', 'IPv4-mapped address of 169.254.169.254: cloud metadata'],
    ['::ffff:10.1.2.3', 'private', 'IPv4-mapped address of 10.1.2.3'],
    ['::ffff:0:10.1.2.3', 'private', 'IPv4-translated address of 10.1.2.3'],
    ['::127.0.0.1', 'transition', 'IPv4-compatible'],
    ['::8.8.8.8', 'transition', 'IPv4-compatible'],
    ['64:ff9b::127.0.0.1', 'loopback', 'NAT64 address of 127.0.0.1'],
    ['64:ff9b::a9fe:a9fe', 'metadata', 'NAT64 address of 169.254.169.254'],
    ['64:ff9b:1::8.8.8.8', 'transition', '64:ff9b:1::/48'],
    ['2002:7f00:1::1', 'loopback', '6to4 address of 127.0.0.1'],
    ['2002:c0a8:101::', 'private', '6to4 address of 192.168.1.1'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'transition', 'Teredo'],
    ['2001:db8::1', 'documentation', '2001:db8::/32'],
    ['3fff::1', 'documentation', '3fff::/20'],
    ['2001:2::1', 'benchmarking', '2001:2::/48'],
    ['100::1', 'reserved', 'discard-only'],
    ['1::1', 'reserved', 'outside 2000::/3'],
    ['4000::1', 'reserved', 'outside 2000::/3'],
  ])('blocks IPv6 %s as %s', (ip, kind, reasonPart) => {
    const verdict = classifyAddress(ip);
    expect(verdict).toMatchObject({ blocked: true, kind });
    expect(verdict.reason).toContain(reasonPart);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1', // just above 172.16.0.0/12
    '100.128.0.1', // just above 100.64.0.0/10
    '198.20.0.1', // just above 198.18.0.0/15
    '169.253.255.255',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8', // IPv4-mapped public
    '64:ff9b::8.8.8.8', // DNS64-synthesised public address on an IPv6-only cluster
    '2002:808:808::1', // 6to4 of a public address
  ])('allows public address %s', (ip) => {
    expect(classifyAddress(ip)).toEqual({ blocked: false, kind: 'public' });
  });

  it.each(['', 'localhost', '127.1', '2130706433', '1.2.3.4.5', '::g', '[::1]'])(
    'fails closed on %j, which is not an IP literal',
    (text) => {
      expect(classifyAddress(text)).toMatchObject({ blocked: true, kind: 'invalid' });
    },
  );

  it('blocks every address of 127.0.0.0/8, 10.0.0.0/8 and fc00::/7 and their IPv4-mapped forms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.constantFrom(127, 10), (low, first) => {
        const v4 = formatIp({ family: 4, value: (BigInt(first) << 24n) | BigInt(low) });
        expect(classifyAddress(v4).blocked).toBe(true);
        expect(classifyAddress(`::ffff:${v4}`).blocked).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 121n) - 1n }), (low) => {
        const v6 = formatIp({ family: 6, value: (0xfcn << 120n) | low });
        expect(classifyAddress(v6).blocked).toBe(true);
      }),
    );
  });
});

describe('parseHostAsIp', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0177.0.0.01', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['3232235777', '192.168.1.1'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['[::1]', '::1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['::1', '::1'],
    ['[FD00:EC2::254]', 'fd00:ec2::254'],
  ])('reads %s as %s', (host, ip) => {
    expect(parseHostAsIp(host)).toBe(ip);
  });

  it.each(['example.com', 'localhost', '0x7f.example', '4294967296', '1.2.3.4.5', '256.0.0.1', '1.2.3.256', '09.0.0.1', '', '[::1', '[localhost]', '[fe80::1%25eth0]'])(
    'does not read %j as an IP address',
    (host) => {
      expect(parseHostAsIp(host)).toBeUndefined();
    },
  );

  it('agrees with the WHATWG URL parser on every numeric spelling of an IPv4 address', () => {
    const part = (value: number) =>
      fc.constantFrom<(n: number) => string>(
        (n) => n.toString(10),
        (n) => `0${n.toString(8)}`,
        (n) => `0x${n.toString(16)}`,
        (n) => `0X${n.toString(16).toUpperCase()}`,
      ).map((spell) => spell(value));
    const spelling = fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 4 }), fc.boolean())
      .chain(([v, parts, trailingDot]) => {
        const bytes = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
        const head = bytes.slice(0, parts - 1);
        const rest = bytes.slice(parts - 1).reduce((acc, b) => acc * 256 + b, 0);
        return fc.tuple(...[...head, rest].map(part)).map((ps) => ps.join('.') + (trailingDot ? '.' : ''));
      });
    fc.assert(
      fc.property(spelling, (host) => {
        expect(parseHostAsIp(host)).toBe(new URL(`http://${host}/`).hostname);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseCidrList', () => {
  it('parses IPv4 and IPv6 blocks and bare addresses as single hosts', () => {
    const [a, b, c] = parseCidrList(['10.0.0.0/8', 'fd00::/8', '192.168.1.10']);
    expect(a).toMatchObject({ family: 4, prefix: 8, text: '10.0.0.0/8' });
    expect(b).toMatchObject({ family: 6, prefix: 8 });
    expect(c).toMatchObject({ family: 4, prefix: 32 });
  });

  it('reports every bad entry at once, not only the first', () => {
    let error: unknown;
    try {
      parseCidrList(['10.0.0.0/8', 'nonsense', '10.0.0.0/33', '192.168.1.10/16', 'fd00::/129']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidCidrError);
    const { problems, code } = error as InvalidCidrError;
    expect(code).toBe('HERALD_INVALID_CIDR');
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain('"nonsense" is not an IP address');
    expect(problems[1]).toContain('prefixes are 0-32');
    expect(problems[2]).toContain('192.168.0.0/16');
    expect(problems[3]).toContain('prefixes are 0-128');
  });

  it('matches addresses exactly as node:net BlockList does', () => {
    // Probes are random addresses of the block's family, half of them forced inside the block so
    // both outcomes are exercised. (BlockList also matches across families through IPv4-mapped
    // IPv6; cidrContains leaves that to checkAddress, so the oracle is asked within one family.)
    const family = fc.constantFrom<4 | 6>(4, 6);
    const caseOf = family.chain((fam) => {
      const bits = fam === 4 ? 32 : 128;
      const value = fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
      return fc.record({ fam: fc.constant(fam), base: value, prefix: fc.integer({ min: 0, max: bits }), probe: value, inside: fc.boolean() });
    });
    fc.assert(
      fc.property(caseOf, ({ fam, base, prefix, probe, inside }) => {
        const bits = BigInt(fam === 4 ? 32 : 128);
        const hostBits = bits - BigInt(prefix);
        const network = (base >> hostBits) << hostBits;
        const probeValue = inside ? network | (probe & ((1n << hostBits) - 1n)) : probe;
        const parsed = parseCidr(`${formatIp({ family: fam, value: network })}/${prefix}`);
        if (typeof parsed === 'string') throw new Error(parsed);
        const oracle = new BlockList();
        oracle.addSubnet(formatIp({ family: fam, value: network }), prefix, fam === 4 ? 'ipv4' : 'ipv6');
        const probeText = formatIp({ family: fam, value: probeValue });
        const expected = oracle.check(probeText, fam === 4 ? 'ipv4' : 'ipv6');
        expect(cidrContains(parsed, { family: fam, value: probeValue })).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('finds containment on both sides of a block boundary', () => {
    const [block] = parseCidrList(['10.96.0.0/12']);
    expect(cidrContains(block!, parseIp('10.96.0.1')!)).toBe(true);
    expect(cidrContains(block!, parseIp('10.111.255.255')!)).toBe(true);
    expect(cidrContains(block!, parseIp('10.112.0.0')!)).toBe(false);
    expect(cidrContains(block!, parseIp('10.95.255.255')!)).toBe(false);
  });
});

describe('checkAddress', () => {
  const policy = (p: Partial<{ allowPrivate: boolean; allow: string[]; deny: string[] }>): AddressPolicy => ({
    allowPrivate: p.allowPrivate ?? false,
    allow: parseCidrList(p.allow ?? []),
    deny: parseCidrList(p.deny ?? []),
  });

  it('allows public addresses and refuses private ones with the classification reason', () => {
    expect(checkAddress('8.8.8.8', strict)).toEqual({ allowed: true });
    expect(checkAddress('10.0.0.5', strict)).toEqual({ allowed: false, reason: 'private network (10.0.0.0/8, RFC 1918)' });
  });

  it('lets an allow entry open a private range and nothing outside it', () => {
    const p = policy({ allow: ['10.20.0.0/16'] });
    expect(checkAddress('10.20.3.4', p)).toEqual({ allowed: true });
    expect(checkAddress('10.21.0.1', p).allowed).toBe(false);
  });

  it('applies IPv4 allow entries to the IPv4-mapped spelling of the same address', () => {
    const p = policy({ allow: ['127.0.0.0/8'] });
    expect(checkAddress('::ffff:127.0.0.1', p)).toEqual({ allowed: true });
  });

  it('lets a deny entry win over an allow entry covering the same address', () => {
    const p = policy({ allow: ['10.0.0.0/8'], deny: ['10.96.0.1/32'] });
    expect(checkAddress('10.96.0.1', p)).toEqual({ allowed: false, reason: 'denied by policy (10.96.0.1/32)' });
    expect(checkAddress('10.96.0.2', p)).toEqual({ allowed: true });
  });

  it('lets a deny entry refuse a public address and its IPv6 embeddings', () => {
    const p = policy({ deny: ['203.0.114.10'] });
    expect(checkAddress('203.0.114.10', p).allowed).toBe(false);
    expect(checkAddress('::ffff:203.0.114.10', p).allowed).toBe(false);
    expect(checkAddress('64:ff9b::203.0.114.10', p).allowed).toBe(false);
    expect(checkAddress('203.0.114.11', p).allowed).toBe(true);
  });

  it('with allowPrivate opens loopback and private ranges but still refuses cloud metadata', () => {
    const p = policy({ allowPrivate: true });
    expect(checkAddress('127.0.0.1', p)).toEqual({ allowed: true });
    expect(checkAddress('192.168.0.10', p)).toEqual({ allowed: true });
    expect(checkAddress('fd00::1', p)).toEqual({ allowed: true });
    expect(checkAddress('169.254.169.254', p)).toMatchObject({ allowed: false, reason: expect.stringContaining('metadata') });
    expect(checkAddress('::ffff:169.254.169.254', p).allowed).toBe(false);
    expect(checkAddress('fd00:ec2::254', p).allowed).toBe(false);
  });

  it('opens a metadata address only when it is listed under allow explicitly', () => {
    expect(checkAddress('169.254.169.254', policy({ allow: ['169.254.169.254/32'] }))).toEqual({ allowed: true });
  });

  it('refuses input that is not an IP address even under allowPrivate', () => {
    expect(checkAddress('localhost', policy({ allowPrivate: true }))).toEqual({
      allowed: false,
      reason: '"localhost" is not an IP address',
    });
  });
});
