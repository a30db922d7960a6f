#!/usr/bin/env node
import { main } from '../src/cli/main.js';

// The only place that touches process.argv/env: everything below takes them as arguments.
const code = await main(process.argv.slice(2), process.env);
if (code !== undefined) process.exitCode = code;
