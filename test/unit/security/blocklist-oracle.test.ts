/**
 * Herald's own CIDR arithmetic (src/security/cidr.ts, ip.ts) checked against Node's: `net.BlockList`
 * decides membership for the same blocks and addresses, so a slip in the bigint maths fails here.
 * Where Herald deliberately differs from BlockList (docs/adr/0011-ip-checks.md) the test says so.
 */
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, type Cidr } from '../../../src/security/cidr.js';
import { formatIp, parseIp, type IpAddress } from '../../../src/security/ip.js';
import { seededRandom } from '../../support/seeded-random.js';

function randomAddress(random: () => number, family: 4 | 6): IpAddress {
  const words = family === 4 ? 1 : 4;
  let value = 0n;
  for (let i = 0; i < words; i++) value = (value << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  return { family, value };
}

/** An address inside `c`: its network with random host bits. */
function inside(random: () => number, c: Cidr): IpAddress {
  const bits = c.family === 4 ? 32 : 128;
  const hostMask = (1n << BigInt(bits - c.prefix)) - 1n;
  return { family: c.family, value: c.network | (randomAddress(random, c.family).value & hostMask) };
}

const family = (f: 4 | 6) => (f === 4 ? 'ipv4' : 'ipv6') as 'ipv4' | 'ipv6';

describe('CIDR membership agrees with node:net BlockList', () => {
  it('for random blocks of every prefix length and random addresses in and around them', () => {
    const random = seededRandom(20261207);
    for (let i = 0; i < 400; i++) {
      const f: 4 | 6 = i % 2 === 0 ? 4 : 6;
      const bits = f === 4 ? 32 : 128;
      const prefix = Math.floor(random() * (bits + 1));
      // The network of a random address, so host bits are zero as parseCidr requires.
      const seed = randomAddress(random, f);
      const hostMask = (1n << BigInt(bits - prefix)) - 1n;
      const text = `${formatIp({ family: f, value: seed.value & ~hostMask & ((1n << BigInt(bits)) - 1n) })}/${prefix}`;
      const c = parseCidr(text);
      if (typeof c === 'string') throw new Error(c);
      const list = new BlockList();
      list.addSubnet(text.split('/')[0]!, prefix, family(f));
      for (const addr of [inside(random, c), randomAddress(random, f), { family: f, value: c.network }]) {
        const ip = formatIp(addr);
        expect({ ip, cidr: text, contains: cidrContains(c, addr) }).toEqual({ ip, cidr: text, contains: list.check(ip, family(f)) });
      }
    }
  });

  it('parses and formats every address the same as Node does', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const addr = randomAddress(random, i % 2 === 0 ? 4 : 6);
      const ip = formatIp(addr);
      expect(parseIp(ip)).toEqual(addr);
      const list = new BlockList();
      list.addAddress(ip, family(addr.family));
      expect(list.check(ip, family(addr.family))).toBe(true);
    }
  });

  it('differs on purpose where BlockList would fail open or hide a typo (see ADR 0011)', () => {
    const loopback = new BlockList();
    loopback.addSubnet('127.0.0.0', 8, 'ipv4');
    // BlockList does not see through NAT64 or 6to4, nor read the numeric host spellings URLs allow.
    expect(loopback.check('64:ff9b::7f00:1', 'ipv6')).toBe(false);
    expect(loopback.check('2002:7f00:1::', 'ipv6')).toBe(false);
    expect(loopback.check('2130706433', 'ipv4')).toBe(false);
    // It takes a block with host bits set without a word; parseCidr refuses it and says what was meant.
    const typo = new BlockList();
    typo.addSubnet('192.168.1.10', 16, 'ipv4');
    expect(typo.check('192.168.200.1', 'ipv4')).toBe(true);
    expect(parseCidr('192.168.1.10/16')).toMatch(/host bits set; write 192\.168\.0\.0\/16/);
  });
});
