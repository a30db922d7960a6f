#!/usr/bin/env node
// Only the Node check is imported statically: static imports are all loaded before this body runs,
// so the rest comes in through import() once the Node is known to be new enough for it.
import { unsupportedNodeMessage } from '../src/cli/node-support.js';

const refusal = unsupportedNodeMessage(process.versions.node);
if (refusal !== undefined) {
  process.stderr.write(`${refusal}\n`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.js');

// The only place that touches process.argv/env: everything below takes them as arguments.
const code = await main(process.argv.slice(2), process.env);
// A failed start-up may leave connections retrying in the background; exit rather than hang.
if (code !== undefined) {
  if (code === 0) process.exitCode = 0;
  else process.exit(code);
}
