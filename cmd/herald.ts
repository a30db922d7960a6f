#!/usr/bin/env node
import { main } from '../src/cli/main.js';

// The only place that touches process.argv/env: everything below takes them as arguments.
const code = await main(process.argv.slice(2), process.env);
// A failed start-up may leave connections retrying in the background; exit rather than hang.
if (code !== undefined) {
  if (code === 0) process.exitCode = 0;
  else process.exit(code);
}
