import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, renderRaw } from './helm.js';

const BAD = join(ROOT, 'test/chart/bad-values');
const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort();

/** Each bad values file says what helm must complain about in its first line: `# expect: <text>`. */
function expectation(file: string): string {
  const first = readFileSync(join(BAD, file), 'utf8').split('\n')[0] ?? '';
  const m = /^# expect: (.+)$/.exec(first);
  if (!m) throw new Error(`${file}: first line must be "# expect: <text of the schema error>"`);
  return m[1]!;
}

describe('values.schema.json', () => {
  it('has bad values files to check', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  it.each(files)('rejects %s with a schema error naming the bad value', (file) => {
    const r = renderRaw({ values: [join(BAD, file)] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(expectation(file));
  });

  it('accepts the chart’s own defaults and the all-features values', () => {
    expect(renderRaw().code).toBe(0);
    expect(renderRaw({ values: [join(ROOT, 'test/chart/values-all.yaml')] }).code).toBe(0);
  });
});
