/**
 * Writes the OpenAPI document generated from the route catalog: `npm run gen:openapi`
 * (= `tsc -p tsconfig.build.json && node dist/src/api/gen-openapi.js`). Run from the repository root.
 */
import { writeFileSync } from 'node:fs';
import { heraldOpenApiJson, OPENAPI_PATH } from './http-routes.js';

writeFileSync(OPENAPI_PATH, heraldOpenApiJson());
process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
