import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeyFileError, parseApiKeyFile } from '../../../src/auth/api-key-file.js';
import { ApiKeyAuthenticator, authorizeType, generateApiKey, hashApiKey } from '../../../src/auth/api-keys.js';

const billingKey = generateApiKey();
const crmKey = generateApiKey();
const crmNextKey = generateApiKey();

const authenticator = new ApiKeyAuthenticator(
  parseApiKeyFile(`
- name: billing
  hash: ${hashApiKey(billingKey)}
  types: ["invoice.*", "payment.succeeded"]
  rateLimit: { perSecond: 5, burst: 10 }
- name: crm
  hash: ${hashApiKey(crmKey)}
- name: crm
  hash: ${hashApiKey(crmNextKey)}
`),
);

function principalFor(header: string) {
  const result = authenticator.authenticate(header);
  if (!result.ok) throw new Error(`expected ${header} to authenticate: ${result.error.message}`);
  return result.principal;
}

describe('generateApiKey and hashApiKey', () => {
  it('generates hk_ keys carrying 32 random bytes', () => {
    expect(billingKey).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(billingKey.slice(3), 'base64url')).toHaveLength(32);
    expect(new Set([billingKey, crmKey, crmNextKey]).size).toBe(3);
  });

  it('hashes to sha256:<hex> of the key, the form the key file stores', () => {
    expect(hashApiKey('hk_example')).toBe(`sha256:${createHash('sha256').update('hk_example').digest('hex')}`);
    expect(hashApiKey('hk_example')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashApiKey('hk_example')).not.toContain('hk_example');
  });
});

describe('ApiKeyAuthenticator', () => {
  it('identifies the producer of a valid bearer key with its limits', () => {
    const principal = principalFor(`Bearer ${billingKey}`);
    expect(principal.name).toBe('billing');
    expect(principal.rateLimit).toEqual({ perSecond: 5, burst: 10 });
    expect(principal.types).toEqual(['invoice.*', 'payment.succeeded']);
  });

  it('accepts either of two keys of one producer during rotation', () => {
    expect(principalFor(`Bearer ${crmKey}`).name).toBe('crm');
    expect(principalFor(`Bearer ${crmNextKey}`).name).toBe('crm');
  });

  it('treats the scheme name case-insensitively and tolerates extra spaces', () => {
    expect(principalFor(`bearer ${crmKey}`).name).toBe('crm');
    expect(principalFor(`BEARER   ${crmKey} `).name).toBe('crm');
  });

  it('answers 401 HERALD_AUTH_MISSING with a WWW-Authenticate challenge when no header is sent', () => {
    for (const header of [undefined, '', '   ']) {
      expect(authenticator.authenticate(header)).toEqual({
        ok: false,
        status: 401,
        error: { code: 'HERALD_AUTH_MISSING', message: expect.stringContaining('Bearer <api key>') },
        wwwAuthenticate: 'Bearer realm="herald"',
      });
    }
  });

  it.each([
    ['another scheme', `Basic ${Buffer.from('u:p').toString('base64')}`],
    ['the key without a scheme', 'hk_abc'],
    ['a scheme without a key', 'Bearer '],
    ['two tokens', `Bearer ${crmKey} extra`],
    ['an absurdly long key', `Bearer ${'x'.repeat(513)}`],
  ])('answers 401 HERALD_AUTH_MALFORMED for %s', (_what, header) => {
    const result = authenticator.authenticate(header);
    expect(result).toMatchObject({ ok: false, status: 401, error: { code: 'HERALD_AUTH_MALFORMED' } });
  });

  it('answers 401 HERALD_AUTH_INVALID for an unknown key without revealing which keys exist', () => {
    const unknown = authenticator.authenticate(`Bearer ${generateApiKey()}`);
    const nearMiss = authenticator.authenticate(`Bearer ${billingKey.slice(0, -1)}x`);
    expect(unknown).toEqual({
      ok: false,
      status: 401,
      error: { code: 'HERALD_AUTH_INVALID', message: 'API key not recognised' },
      wwwAuthenticate: 'Bearer realm="herald"',
    });
    expect(nearMiss).toEqual(unknown);
  });

  it('does not accept the stored hash in place of the key', () => {
    const result = authenticator.authenticate(`Bearer ${hashApiKey(billingKey)}`);
    expect(result).toMatchObject({ ok: false, error: { code: 'HERALD_AUTH_INVALID' } });
  });

  it('refuses every key when the file lists none', () => {
    expect(new ApiKeyAuthenticator([]).authenticate(`Bearer ${crmKey}`)).toMatchObject({ ok: false, status: 401 });
  });

  it('rejects entries whose hash is not a SHA-256 digest when built without parseApiKeyFile', () => {
    expect(() => new ApiKeyAuthenticator([{ name: 'x', hash: 'sha256:abcd' }])).toThrow(ApiKeyFileError);
    expect(() => new ApiKeyAuthenticator([{ name: 'x', hash: `md5:${'0'.repeat(64)}` }])).toThrow(ApiKeyFileError);
  });
});

describe('authorizeType', () => {
  const billing = () => principalFor(`Bearer ${billingKey}`);

  it.each(['invoice.created', 'invoice.line.added', 'payment.succeeded'])('allows %s for a key whose globs match it', (type) => {
    expect(authorizeType(billing(), type)).toEqual({ ok: true });
  });

  it.each(['payment.failed', 'invoicex', 'order.created', 'Invoice.created'])('answers 403 for %s outside the key\'s globs', (type) => {
    expect(authorizeType(billing(), type)).toEqual({
      ok: false,
      status: 403,
      error: {
        code: 'HERALD_TYPE_FORBIDDEN',
        message: `API key "billing" may not send events of type "${type}"; allowed: invoice.*, payment.succeeded`,
      },
    });
  });

  it('allows every type for a key without a types list', () => {
    const crm = principalFor(`Bearer ${crmKey}`);
    expect(crm.types).toBeUndefined();
    expect(authorizeType(crm, 'anything.at.all')).toEqual({ ok: true });
    expect(authorizeType(crm, 'event')).toEqual({ ok: true });
  });

  it('treats regex characters in globs literally', () => {
    const [entry] = parseApiKeyFile(JSON.stringify([{ name: 'p', hash: hashApiKey('hk_p'), types: ['a.b'] }]));
    const auth = new ApiKeyAuthenticator([entry!]);
    const result = auth.authenticate('Bearer hk_p');
    if (!result.ok) throw new Error('expected hk_p to authenticate');
    expect(authorizeType(result.principal, 'a.b').ok).toBe(true);
    expect(authorizeType(result.principal, 'aXb').ok).toBe(false);
  });
});
