import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Destination } from '../../../src/api/destination.js';

const dir = 'manifests/examples';

describe('example manifests', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('include a basic, a secret-headers-and-retry, an autoscaled and an ordered Destination', () => {
    expect(files.sort()).toEqual(['destination-autoscaled.yaml', 'destination-basic.yaml', 'destination-ordered.yaml', 'destination-retry-and-secret-headers.yaml']);
  });

  for (const file of files) {
    it(`${file} holds valid Destinations`, () => {
      const docs = parseAllDocuments(readFileSync(`${dir}/${file}`, 'utf8')).map((d) => d.toJS() as { kind: string });
      const destinations = docs.filter((d) => d.kind === 'Destination');
      expect(destinations.length).toBeGreaterThan(0);
      for (const d of destinations) {
        const r = Destination.safeParse(d);
        expect(r.error?.issues ?? [], file).toEqual([]);
      }
    });
  }
});
