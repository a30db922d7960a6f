import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  InvalidSigningSecretError,
  SigningError,
  generateSecret,
  parseSecret,
  sign,
  signingHeaders,
} from '../../../src/signing/standard-webhooks.js';

const now = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ id: 'evt_1', type: 'order.created', payload: { total: 42, note: 'café ☕' } });

/**
 * A receiver written from the spec (https://www.standardwebhooks.com), independent of both the code
 * under test and the standardwebhooks package: HMAC-SHA256 over "id.timestamp.body" with the
 * base64-decoded secret, compared against each space-separated "v1,<base64>" entry.
 */
function verifyFromSpec(secret: string, headers: Record<string, string>, payload: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${payload}`)
    .digest();
  return (headers['webhook-signature'] ?? '').split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || sig === undefined) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

describe('sign', () => {
  it('reproduces the signature the standardwebhooks reference library computes', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const payload = '{"test": 2432232314}';
    const reference = new Webhook(secret).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330 * 1000), payload);
    expect(sign({ id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330, body: payload, secrets: [secret] })).toBe(reference);
    expect(reference).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('produces headers the standardwebhooks library verifies', () => {
    const secret = generateSecret();
    const headers = signingHeaders({ id: 'msg_1', timestamp: now(), body, secrets: [secret] });
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(verifyFromSpec(secret, { ...headers }, body)).toBe(true);
  });

  it('signs the exact bytes given, so a Buffer body and its string sign alike', () => {
    const secret = generateSecret();
    const input = { id: 'msg_1', timestamp: 1_700_000_000, secrets: [secret] };
    expect(sign({ ...input, body: Buffer.from(body, 'utf8') })).toBe(sign({ ...input, body }));
  });

  it.each([
    ['one changed byte of the body', (h: Record<string, string>) => ({ headers: h, payload: body.replace('42', '43') })],
    ['a different webhook-id', (h: Record<string, string>) => ({ headers: { ...h, 'webhook-id': 'msg_2' }, payload: body })],
    [
      'a timestamp one second off',
      (h: Record<string, string>) => ({
        headers: { ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) },
        payload: body,
      }),
    ],
  ])('fails verification after %s', (_what, tamper) => {
    const secret = generateSecret();
    const signed: Record<string, string> = { ...signingHeaders({ id: 'msg_1', timestamp: now(), body, secrets: [secret] }) };
    const { headers, payload } = tamper(signed);
    expect(() => new Webhook(secret).verify(payload, headers)).toThrow(WebhookVerificationError);
    expect(verifyFromSpec(secret, headers, payload)).toBe(false);
    // The untampered message still verifies, so the failure above is due to the change alone.
    expect(verifyFromSpec(secret, signed, body)).toBe(true);
  });

  it('emits one space-separated signature per secret, so receivers holding either secret verify during rotation', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const headers = signingHeaders({ id: 'msg_1', timestamp: now(), body, secrets: [oldSecret, newSecret] });
    const entries = headers['webhook-signature'].split(' ');
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => /^v1,[A-Za-z0-9+/]{43}=$/.test(e))).toBe(true);
    expect(() => new Webhook(oldSecret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, { ...headers })).toThrow(WebhookVerificationError);
    expect(verifyFromSpec(oldSecret, { ...headers }, body)).toBe(true);
    expect(verifyFromSpec(newSecret, { ...headers }, body)).toBe(true);
  });

  it('puts id and timestamp into their headers unchanged', () => {
    const headers = signingHeaders({ id: 'msg_abc', timestamp: 1_700_000_123, body, secrets: [generateSecret()] });
    expect(headers['webhook-id']).toBe('msg_abc');
    expect(headers['webhook-timestamp']).toBe('1700000123');
  });

  it('refuses to sign without any active secret', () => {
    expect(() => sign({ id: 'msg_1', timestamp: now(), body, secrets: [] })).toThrow(SigningError);
  });

  it.each([
    ['a millisecond timestamp', { timestamp: Date.now() }],
    ['a fractional timestamp', { timestamp: 1_700_000_000.5 }],
    ['a negative timestamp', { timestamp: -1 }],
    ['an empty id', { id: '' }],
    ['an id with a newline', { id: 'msg\n1' }],
  ])('refuses %s with a SigningError', (_what, override) => {
    const input = { id: 'msg_1', timestamp: now(), body, secrets: [generateSecret()], ...override };
    expect(() => sign(input)).toThrow(SigningError);
    try {
      sign(input);
    } catch (err) {
      expect((err as SigningError).code).toBe('HERALD_SIGNING');
    }
  });
});

describe('parseSecret', () => {
  it('decodes the key behind the whsec_ prefix', () => {
    const key = Buffer.alloc(32, 7);
    expect(parseSecret(`whsec_${key.toString('base64')}`).equals(key)).toBe(true);
  });

  it('accepts the 24-byte secrets other providers issue', () => {
    expect(parseSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toHaveLength(24);
  });

  it('generates secrets of 32 random bytes that parse', () => {
    const a = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(parseSecret(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
  });

  it.each([
    ['a missing prefix', Buffer.alloc(32, 1).toString('base64'), 'must start with "whsec_"'],
    ['an empty key', 'whsec_', 'decodes to 0 bytes'],
    ['a short key', `whsec_${Buffer.alloc(16, 1).toString('base64')}`, 'decodes to 16 bytes'],
    ['characters outside base64', `whsec_${Buffer.alloc(32, 1).toString('base64').slice(0, -4)}!!!!`, 'standard padded base64'],
    ['base64url instead of base64', `whsec_${Buffer.alloc(33, 0xfb).toString('base64url')}`, 'standard padded base64'],
  ])('rejects %s with a message that does not echo the secret', (_what, secret, messagePart) => {
    let error: unknown;
    try {
      parseSecret(secret);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSigningSecretError);
    expect((error as InvalidSigningSecretError).code).toBe('HERALD_INVALID_SIGNING_SECRET');
    expect((error as Error).message).toContain(messagePart);
    if (secret.length > 'whsec_'.length + 4) expect((error as Error).message).not.toContain(secret.slice(6, 20));
  });
});
