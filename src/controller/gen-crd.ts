/**
 * Writes the Destination CRD generated from the zod schema: `npm run gen:crd`
 * (= `tsc -p tsconfig.build.json && node dist/src/controller/gen-crd.js`). Run from the repository
 * root; an optional argument overrides the output path.
 */
import { writeFileSync } from 'node:fs';
import { CRD_PATH, destinationCrdYaml } from './crd.js';

const out = process.argv[2] ?? CRD_PATH;
writeFileSync(out, destinationCrdYaml());
process.stdout.write(`wrote ${out}\n`);
