import { ConfigError } from '../config/config.js';
import { DEV_REDIS_URL_FILE, readDevRedisUrl } from '../dev/dev-redis-url.js';
import { RedisUnreachableError } from '../redis/reachable.js';
import { VERSION } from '../version.js';
import { Interrupted, UsageError, type Env } from './common.js';

/** A subcommand's help text and entry point, in a module of its own. */
interface Loaded {
  help: string;
  run: (argv: string[], env: Env) => Promise<void>;
}

interface Command {
  summary: string;
  /**
   * Imports the subcommand's module on use: each process loads only what it runs (an ingest or
   * worker pod does not load the controller's Kubernetes client, about half a second of start-up).
   */
  load: () => Promise<Loaded>;
}

const commands: Record<string, Command> = {
  dev: { summary: 'run ingest and workers locally, destinations from a YAML file', load: async () => import('./dev.js').then((m) => ({ help: m.devHelp, run: m.runDev })) },
  ingest: { summary: 'serve the ingest API (POST /ingest)', load: async () => import('./ingest.js').then((m) => ({ help: m.ingestHelp, run: m.runIngest })) },
  worker: { summary: 'deliver the queued events of one destination', load: async () => import('./worker.js').then((m) => ({ help: m.workerHelp, run: m.runWorker })) },
  controller: { summary: 'turn Destination resources into worker Deployments (Kubernetes)', load: async () => import('./controller.js').then((m) => ({ help: m.controllerHelp, run: m.runController })) },
  dlq: { summary: 'list, show, replay or purge dead letters', load: async () => import('./dlq.js').then((m) => ({ help: m.dlqHelp, run: m.runDlq })) },
  events: { summary: 'show an event\'s deliveries and attempts, or list events (the delivery log)', load: async () => import('./events.js').then((m) => ({ help: m.eventsHelp, run: m.runEvents })) },
  resume: { summary: 'resume a destination disabled by a 410 Gone', load: async () => import('./resume.js').then((m) => ({ help: m.resumeHelp, run: m.runResume })) },
  keys: { summary: 'make ingest API keys and webhook signing secrets', load: async () => import('./keys.js').then((m) => ({ help: m.keysHelp, run: m.runKeys })) },
};

/** Commands that finish (as opposed to servers that run until signalled). */
const ONE_SHOT = new Set(['dlq', 'events', 'keys', 'resume']);

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
    'variables (REDIS_URL, HERALD_HTTP_PORT, SMTP_URL, ...); see docs/configuration.md. Without',
    `REDIS_URL, commands use the Redis of a \`herald dev\` running in the same directory (${DEV_REDIS_URL_FILE}).`,
    '',
    'Exit status: 0 success, 1 failure or not found, 2 wrong usage.',
  ].join('\n');
}

/**
 * Runs the CLI; resolves with an exit code for short commands, or undefined while a server keeps
 * running. Exit codes: 0 success, 1 runtime failure or not found (one line, no usage), 2 wrong usage.
 * `cwd` is where a running `herald dev` noted its Redis URL.
 */
export async function main(argv: string[], env: Env, cwd = process.cwd()): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  if (!name) {
    process.stderr.write(`${mainHelp()}\n`);
    return 2;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`herald: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  // `herald dev` starts the Redis it notes; every other command follows it when no Redis is named.
  const devUrl = name !== 'dev' && !env.REDIS_URL && !env.HERALD_REDIS_SENTINELS ? await readDevRedisUrl(cwd) : undefined;
  try {
    await cmd.run(rest, devUrl ? { ...env, REDIS_URL: devUrl } : env);
    return ONE_SHOT.has(name) ? 0 : undefined;
  } catch (err) {
    return report(name, cmd.help, err, devUrl);
  }
}

/** Prints a failed command's error the way its kind calls for and returns the exit code. */
function report(name: string, help: string, err: unknown, devUrl: string | undefined): number {
  const message = (err as Error).message;
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`herald ${name}: ${message}\n\n${help}\n`);
    return 2;
  }
  if (err instanceof Interrupted) {
    if (message) process.stderr.write(`herald ${name}: ${message}\n`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`herald ${name}: ${message}\n`);
    return 2;
  }
  if (err instanceof RedisUnreachableError && devUrl) {
    process.stderr.write(`herald ${name}: cannot reach Redis at ${err.url}, which ${DEV_REDIS_URL_FILE} names: is \`herald dev\` still running? Set REDIS_URL to use another Redis.\n`);
    return 1;
  }
  // Runtime failures and things not found (NotFoundError): one line, no usage.
  process.stderr.write(`herald ${name}: ${message}\n`);
  return 1;
}
