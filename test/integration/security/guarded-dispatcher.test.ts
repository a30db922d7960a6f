import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request, type Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCidrList, type AddressPolicy } from '../../../src/security/address.js';
import { BlockedAddressError } from '../../../src/security/errors.js';
import { createDeliveryAgent, validateDestinationUrl, type DeliveryAgentOptions } from '../../../src/security/guarded-dispatcher.js';
import type { Resolver } from '../../../src/security/resolver.js';

let server: Server;
let port: number;
let hits = 0;
const agents: Agent[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits += 1;
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const policy = (p: Partial<{ allowPrivate: boolean; allow: string[]; deny: string[] }> = {}): AddressPolicy => ({
  allowPrivate: p.allowPrivate ?? false,
  allow: parseCidrList(p.allow ?? []),
  deny: parseCidrList(p.deny ?? []),
});

function agent(p: AddressPolicy, extra: Partial<DeliveryAgentOptions> = {}): Agent {
  const a = createDeliveryAgent({ policy: p, connections: 4, keepAliveTimeoutMs: 1_000, ...extra });
  agents.push(a);
  return a;
}

/** Sends a GET through `dispatcher` and returns the body, or the error the request failed with. */
async function get(url: string, dispatcher: Agent): Promise<{ body: string } | { error: unknown }> {
  try {
    const res = await request(url, { dispatcher });
    return { body: await res.body.text() };
  } catch (error) {
    return { error };
  }
}

async function expectBlocked(url: string, dispatcher: Agent): Promise<BlockedAddressError> {
  const before = hits;
  const outcome = await get(url, dispatcher);
  expect(outcome).toHaveProperty('error');
  const { error } = outcome as { error: unknown };
  expect(error).toBeInstanceOf(BlockedAddressError);
  expect((error as BlockedAddressError).code).toBe('HERALD_SSRF_BLOCKED');
  expect(hits).toBe(before);
  return error as BlockedAddressError;
}

describe('createDeliveryAgent', () => {
  it('refuses a loopback receiver when the policy does not allow private addresses', async () => {
    const err = await expectBlocked(`http://127.0.0.1:${port}/`, agent(policy()));
    expect(err.address).toBe('127.0.0.1');
    expect(err.message).toBe(
      'Refused to connect to 127.0.0.1: loopback (127.0.0.0/8). If this destination is meant to be internal, add its address to the delivery allow list.',
    );
  });

  it('reaches the receiver when 127.0.0.0/8 is in the allow list', async () => {
    expect(await get(`http://127.0.0.1:${port}/`, agent(policy({ allow: ['127.0.0.0/8'] })))).toEqual({ body: 'reached' });
  });

  it('reaches the receiver when private addresses are allowed', async () => {
    expect(await get(`http://127.0.0.1:${port}/`, agent(policy({ allowPrivate: true })))).toEqual({ body: 'reached' });
  });

  it('refuses an allowed range when a deny entry covers the address', async () => {
    const err = await expectBlocked(`http://127.0.0.1:${port}/`, agent(policy({ allowPrivate: true, deny: ['127.0.0.1/32'] })));
    expect(err.reason).toBe('denied by policy (127.0.0.1/32)');
  });

  it.each(['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]'])(
    'refuses the numeric spelling http://%s of a loopback address',
    async (host) => {
      await expectBlocked(`http://${host}:${port}/`, agent(policy()));
    },
  );

  it('lets a numeric spelling through once the address is allowed, so the refusals above are about the address', async () => {
    expect(await get(`http://2130706433:${port}/`, agent(policy({ allow: ['127.0.0.0/8'] })))).toEqual({ body: 'reached' });
  });

  it('refuses IPv6 loopback and unspecified literals', async () => {
    await expectBlocked(`http://[::1]:${port}/`, agent(policy()));
    await expectBlocked(`http://[::]:${port}/`, agent(policy()));
    await expectBlocked(`http://0.0.0.0:${port}/`, agent(policy()));
  });

  it('refuses a host name that resolves to loopback (localhost)', async () => {
    const err = await expectBlocked(`http://localhost:${port}/`, agent(policy()));
    expect(err.host).toBe('localhost');
    expect(err.message).toMatch(/^Refused to connect to localhost \(resolved to (127\.0\.0\.1|::1)\): loopback/);
  });

  it('checks the address at connect time, so a name rebinding to loopback after admission is refused', async () => {
    // A rebinding name answers with a public address first and with loopback afterwards.
    let answers = 0;
    const rebinding: Resolver = async () => [{ address: answers++ === 0 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
    const admission = await validateDestinationUrl(`http://rebind.example:${port}/`, policy(), rebinding);
    expect(admission).toEqual({ ok: true, host: 'rebind.example', addresses: ['93.184.215.14'] });

    const err = await expectBlocked(`http://rebind.example:${port}/`, agent(policy(), { resolver: rebinding }));
    expect(err.message).toContain('rebind.example (resolved to 127.0.0.1)');
    expect(answers).toBe(2);
  });

  it('connects to the resolved address when the resolver answers with an allowed one', async () => {
    const resolver: Resolver = async (host) => (host === 'receiver.internal' ? [{ address: '127.0.0.1', family: 4 }] : []);
    const dispatcher = agent(policy({ allow: ['127.0.0.0/8'] }), { resolver });
    expect(await get(`http://receiver.internal:${port}/`, dispatcher)).toEqual({ body: 'reached' });
  });

  it('refuses the whole answer when any resolved address is refused', async () => {
    const resolver: Resolver = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    const err = await expectBlocked(`http://mixed.internal:${port}/`, agent(policy({ allow: ['127.0.0.0/8'] }), { resolver }));
    expect(err.address).toBe('10.0.0.7');
  });

  it('fails with the resolver error when a name does not resolve', async () => {
    const resolver: Resolver = async () => [];
    const outcome = await get(`http://nowhere.internal:${port}/`, agent(policy({ allowPrivate: true }), { resolver }));
    expect(outcome).toMatchObject({ error: { code: 'ENOTFOUND' } });
  });
});

describe('validateDestinationUrl with the system resolver', () => {
  it('reports that localhost resolves to a refused loopback address', async () => {
    const check = await validateDestinationUrl(`http://localhost:${port}/hook`, policy());
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.host).toBe('localhost');
    expect(check.blocked.length).toBeGreaterThan(0);
    expect(check.blocked.every((b) => b.reason.startsWith('loopback'))).toBe(true);
  });
});
