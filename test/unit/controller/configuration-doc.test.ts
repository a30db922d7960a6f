import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ControllerEnvSchema } from '../../../src/config/controller.js';

describe('docs/configuration.md, controller section', () => {
  it('documents every environment variable `herald controller` reads', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const start = doc.indexOf('\n## Controller');
    expect(start, 'docs/configuration.md needs a "## Controller" section').toBeGreaterThan(-1);
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    const missing = Object.keys(ControllerEnvSchema.shape).filter((name) => !section.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
