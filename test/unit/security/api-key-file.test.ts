import { describe, expect, it } from 'vitest';
import { ApiKeyFileError, parseApiKeyFile } from '../../../src/auth/api-key-file.js';
import { hashApiKey } from '../../../src/auth/api-keys.js';

const hashA = hashApiKey('hk_a');
const hashB = hashApiKey('hk_b');

function issuesOf(text: string): readonly string[] {
  try {
    parseApiKeyFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiKeyFileError);
    expect((err as ApiKeyFileError).code).toBe('HERALD_API_KEY_FILE');
    return (err as ApiKeyFileError).issues;
  }
  throw new Error('expected the file to be rejected');
}

describe('parseApiKeyFile', () => {
  it('reads a YAML list with optional type globs and rate limits', () => {
    const entries = parseApiKeyFile(`
- name: billing
  hash: ${hashA}
  types: ["invoice.*", "payment.succeeded"]
  rateLimit: { perSecond: 50, burst: 100 }
- name: crm
  hash: ${hashB}
`);
    expect(entries).toEqual([
      { name: 'billing', hash: hashA, types: ['invoice.*', 'payment.succeeded'], rateLimit: { perSecond: 50, burst: 100 } },
      { name: 'crm', hash: hashB },
    ]);
  });

  it('reads the same list written as JSON', () => {
    const json = JSON.stringify([{ name: 'crm', hash: hashB, rateLimit: { perSecond: 0.5, burst: 1 } }]);
    expect(parseApiKeyFile(json)).toEqual([{ name: 'crm', hash: hashB, rateLimit: { perSecond: 0.5, burst: 1 } }]);
  });

  it('lower-cases hex digests so a pasted upper-case hash still matches', () => {
    const [entry] = parseApiKeyFile(JSON.stringify([{ name: 'crm', hash: hashA.toUpperCase().replace('SHA256', 'sha256') }]));
    expect(entry!.hash).toBe(hashA);
  });

  it('allows two keys for one producer, as during key rotation', () => {
    const entries = parseApiKeyFile(JSON.stringify([{ name: 'crm', hash: hashA }, { name: 'crm', hash: hashB }]));
    expect(entries.map((e) => e.name)).toEqual(['crm', 'crm']);
  });

  it('treats an empty file as no keys', () => {
    expect(parseApiKeyFile('')).toEqual([]);
  });

  it('lists every problem with its position', () => {
    const issues = issuesOf(
      JSON.stringify([
        { name: 'ok', hash: hashA },
        { name: 'has space', hash: hashB },
        { name: 'plain', key: 'hk_secret', hash: 'hk_secret' },
        { name: 'limits', hash: hashApiKey('hk_c'), rateLimit: { perSecond: 0, burst: 1.5 } },
        { name: 'types', hash: hashApiKey('hk_d'), types: [] },
      ]),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\[1\]\.name: name must be/),
        expect.stringMatching(/^\[2\]\.hash: .*never store the key itself/),
        expect.stringMatching(/^\[2\]: .*key/),
        expect.stringMatching(/^\[3\]\.rateLimit\.perSecond:/),
        expect.stringMatching(/^\[3\]\.rateLimit\.burst:/),
        expect.stringMatching(/^\[4\]\.types: types must list at least one pattern/),
      ]),
    );
    expect(issues.some((i) => i.startsWith('[0]'))).toBe(false);
  });

  it('rejects two entries with the same key, which would make the producer depend on file order', () => {
    expect(issuesOf(JSON.stringify([{ name: 'a', hash: hashA }, { name: 'b', hash: hashA }]))).toEqual([
      '[1].hash: same key hash as entry 0',
    ]);
  });

  it('rejects a document that is not a list', () => {
    expect(issuesOf(`name: crm\nhash: ${hashA}\n`)[0]).toMatch(/^\(file\): /);
  });

  it('reports YAML syntax errors instead of throwing the parser error', () => {
    expect(issuesOf('- name: [unclosed')[0]).toMatch(/^not valid YAML or JSON/);
  });
});
