/**
 * Writes the Destination CRD generated from the zod schema: `npm run gen:crd`
 * (= `tsc -p tsconfig.build.json && node dist/src/controller/gen-crd.js`). Run from the repository
 * root. Arguments are output paths (default manifests/crds/destinations.herald.dev.yaml), so the
 * Helm chart's copy can be written in the same run.
 */
import { writeFileSync } from 'node:fs';
import { CRD_PATH, destinationCrdYaml } from './crd.js';

const yaml = destinationCrdYaml();
const outputs = process.argv.slice(2);
for (const out of outputs.length > 0 ? outputs : [CRD_PATH]) {
  writeFileSync(out, yaml);
  process.stdout.write(`wrote ${out}\n`);
}
