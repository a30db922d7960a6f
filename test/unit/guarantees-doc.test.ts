import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/guarantees.md backs every promise with a test name and links within itself; a promise whose
// test was renamed away, or a link to a section that is gone, is a promise nobody checks.
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const doc = readFileSync(root('docs/guarantees.md'), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) => heading.toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-');

describe('docs/guarantees.md', () => {
  it('links only to sections it has', () => {
    const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]!)));
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });

  it('names test files that exist, and test names found in them', () => {
    const missing: string[] = [];
    for (const m of doc.matchAll(/`((?:chaos\/)?[\w-]+\.test\.ts) › ([^`]+)`/g)) {
      const file = m[1]!.startsWith('chaos/') ? `test/${m[1]}` : `test/integration/${m[1]}`;
      if (!existsSync(root(file))) {
        missing.push(`${m[1]} (no such file)`);
        continue;
      }
      const name = m[2]!.split(' › ').at(-1)!;
      if (name === '*') continue;
      // Names may be elided ("…") or made by test.each from a table ('quoted' values, a parameter as
      // the second word): one fragment of a dozen characters or more must be in the file as written.
      const fragments = [...name.split(/['…*(]/), name.split(' ').slice(2).join(' ')].map((f) => f.trim()).filter((f) => f.length >= 12);
      const source = readFileSync(root(file), 'utf8');
      if (!fragments.some((f) => source.includes(f))) missing.push(`${m[1]} › ${name}`);
    }
    expect(missing).toEqual([]);
  });
});
