import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/key-slot.js';

describe('keySlot', () => {
  it('computes the slots Redis documents (CRC16-XMODEM modulo 16384)', () => {
    // From the Redis Cluster specification and `CLUSTER KEYSLOT` on Redis 7.
    expect(keySlot('123456789')).toBe(0x31c3 % 16384);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
  });

  it('hashes only the hash tag, so a destination\'s keys share its slot', () => {
    expect(keySlot('herald:{d:orders}:stats')).toBe(keySlot('d:orders'));
    expect(keySlot('x{d:orders}:deliveries:wait')).toBe(keySlot('herald:{d:orders}:ingest:abc'));
    // An empty tag `{}` does not count: the whole key is hashed.
    expect(keySlot('a{}b')).not.toBe(keySlot(''));
    expect(keySlot('a{}b')).toBe(keySlot('a{}b'));
  });
});
