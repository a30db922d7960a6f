/**
 * Rebuilds a run's Markdown and PNG from its JSON (after a change to the report or the targets):
 *
 *   node bench/dist/render.js bench/results/<stamp>-<mode>.json
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeReport, type Report } from './lib/report.js';
import { evaluateTargets } from './lib/targets.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: render RESULTS.json\n');
  process.exit(2);
}
const r = JSON.parse(await readFile(file, 'utf8')) as Report;
// Older results lack later options; give them their defaults.
const opts = { ...r.opts, redisArgs: r.opts.redisArgs ?? [], ingestAuth: r.opts.ingestAuth ?? 'key', resultsDir: resolve(dirname(file)) };
const files = await writeReport({ ...r, opts, targets: r.opts.mode === 'compare' ? [] : evaluateTargets(r.results, r.opts.payloadBytes) });
process.stdout.write(`${files.join('\n')}\n`);
