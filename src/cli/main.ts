import { ConfigError } from '../config/config.js';
import { VERSION } from '../version.js';
import { UsageError, type Env } from './common.js';
import { devHelp, runDev } from './dev.js';
import { dlqHelp, runDlq } from './dlq.js';
import { ingestHelp, runIngest } from './ingest.js';
import { runWorker, workerHelp } from './worker.js';
import { keysHelp, runKeys } from './keys.js';
import { resumeHelp, runResume } from './resume.js';
import { controllerHelp, runController } from './controller.js';

interface Command {
  summary: string;
  help: string;
  run: (argv: string[], env: Env) => Promise<void>;
}

const commands: Record<string, Command> = {
  dev: { summary: 'run ingest and workers locally, destinations from a YAML file', help: devHelp, run: runDev },
  ingest: { summary: 'serve the ingest API (POST /ingest)', help: ingestHelp, run: runIngest },
  worker: { summary: 'deliver the queued events of one destination', help: workerHelp, run: runWorker },
  controller: { summary: 'turn Destination resources into worker Deployments (Kubernetes)', help: controllerHelp, run: runController },
  dlq: { summary: 'list, show, replay or purge dead letters', help: dlqHelp, run: runDlq },
  resume: { summary: 'resume a destination disabled by a 410 Gone', help: resumeHelp, run: runResume },
  keys: { summary: 'make ingest API keys and webhook signing secrets', help: keysHelp, run: runKeys },
};

/** Commands that finish (as opposed to servers that run until signalled). */
const ONE_SHOT = new Set(['dlq', 'keys', 'resume']);

/** Registers a subcommand from a module that is loaded lazily (the controller pulls in the Kubernetes client). */
export function registerCommand(name: string, cmd: Command): void {
  commands[name] = cmd;
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    `Herald ${VERSION}: event delivery to webhooks with retries, dead letters and alerts.`,
    '',
    'Usage: herald <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    '',
    'Run `herald <command> --help` for a command\'s options. Configuration comes from environment',
    'variables (REDIS_URL, HERALD_HTTP_PORT, SMTP_URL, ...); see docs/configuration.md.',
  ].join('\n');
}

/** Runs the CLI; resolves with an exit code for short commands, or undefined while a server keeps running. */
export async function main(argv: string[], env: Env): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`herald: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  try {
    await cmd.run(rest, env);
    return ONE_SHOT.has(name) ? 0 : undefined;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`herald ${name}: ${(err as Error).message}\n\n${cmd.help}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`herald ${name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`herald ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
