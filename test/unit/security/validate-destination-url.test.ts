import { describe, expect, it } from 'vitest';
import { parseCidrList, type AddressPolicy } from '../../../src/security/address.js';
import { validateDestinationUrl } from '../../../src/security/guarded-dispatcher.js';
import type { Resolver } from '../../../src/security/resolver.js';

const strict: AddressPolicy = { allowPrivate: false, allow: [], deny: [] };

/** A resolver with a fixed table; names outside it fail like getaddrinfo does. */
const table =
  (entries: Record<string, string[]>): Resolver =>
  async (host) => {
    const addresses = entries[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

const neverCalled: Resolver = async (host) => {
  throw new Error(`resolver must not be asked about literal host ${host}`);
};

describe('validateDestinationUrl', () => {
  it('accepts a name resolving only to public addresses and lists them', async () => {
    const resolver = table({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] });
    expect(await validateDestinationUrl('https://hooks.example.com/in', strict, resolver)).toEqual({
      ok: true,
      host: 'hooks.example.com',
      addresses: ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    });
  });

  it('reports every refused address of a name with its reason', async () => {
    const resolver = table({ 'internal.example.com': ['93.184.215.14', '10.1.2.3', 'fd00::5'] });
    const check = await validateDestinationUrl('https://internal.example.com/', strict, resolver);
    expect(check).toEqual({
      ok: false,
      host: 'internal.example.com',
      reason: 'internal.example.com resolves to refused addresses: 10.1.2.3 (private network (10.0.0.0/8, RFC 1918)), fd00::5 (unique local address (fc00::/7))',
      blocked: [
        { address: '10.1.2.3', reason: 'private network (10.0.0.0/8, RFC 1918)' },
        { address: 'fd00::5', reason: 'unique local address (fc00::/7)' },
      ],
    });
  });

  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001:8080/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0xa9fea9fe/latest/meta-data/', '169.254.169.254'],
    ['http://[::1]:8080/', '::1'],
    ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe'],
  ])('refuses the literal host of %s without asking DNS', async (url, address) => {
    const check = await validateDestinationUrl(url, strict, neverCalled);
    expect(check).toMatchObject({ ok: false, blocked: [{ address }] });
  });

  it('accepts a literal host the allow list opens', async () => {
    const policy: AddressPolicy = { ...strict, allow: parseCidrList(['10.20.0.0/16']) };
    expect(await validateDestinationUrl('http://10.20.0.9:8080/', policy, neverCalled)).toEqual({
      ok: true,
      host: '10.20.0.9',
      addresses: ['10.20.0.9'],
    });
  });

  it('refuses a public address named in the deny list', async () => {
    const policy: AddressPolicy = { ...strict, deny: parseCidrList(['93.184.215.14']) };
    const check = await validateDestinationUrl('https://hooks.example.com/', policy, table({ 'hooks.example.com': ['93.184.215.14'] }));
    expect(check).toMatchObject({ ok: false, blocked: [{ address: '93.184.215.14', reason: 'denied by policy (93.184.215.14)' }] });
  });

  it('accepts a name that does not resolve yet, with a warning, since DNS may follow the Destination', async () => {
    expect(await validateDestinationUrl('https://soon.example.com/', strict, table({}))).toEqual({
      ok: true,
      host: 'soon.example.com',
      addresses: [],
      warning: 'could not resolve soon.example.com: getaddrinfo ENOTFOUND soon.example.com',
    });
  });

  it.each([
    ['file:///etc/passwd', 'scheme "file:" is not allowed'],
    ['gopher://example.com/', 'scheme "gopher:" is not allowed'],
    ['not a url', '"not a url" is not a valid URL'],
  ])('refuses %s', async (url, reason) => {
    expect(await validateDestinationUrl(url, strict, neverCalled)).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
  });
});
