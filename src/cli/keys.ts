import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateApiKey, hashApiKey } from '../auth/api-keys.js';
import { generateSecret } from '../signing/standard-webhooks.js';
import { UsageError, type Env } from './common.js';

export const keysHelp = `Usage: herald keys <api-key|signing-secret> [--name NAME] [--types GLOB,...]

  api-key          prints a new ingest API key (give it to the producer) and the key-file entry
                   holding only its hash (add it to the Secret behind HERALD_API_KEYS_FILE)
  signing-secret   prints a new Standard Webhooks secret (whsec_…) for a Destination's signing Secret`;

export async function runKeys(argv: string[], _env: Env, out: (l: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const [what, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, types: { type: 'string' } }, strict: true });
  if (what === 'api-key') {
    if (!values.name) throw new UsageError('api-key needs --name (the producer or tenant the key belongs to)');
    const key = generateApiKey();
    const entry = { name: values.name, hash: hashApiKey(key), ...(values.types ? { types: values.types.split(',') } : {}) };
    out(`# API key for ${values.name}: shown once, store it with the producer`);
    out(`# ${key}`);
    out(stringify([entry]).trimEnd());
  } else if (what === 'signing-secret') {
    out(generateSecret());
  } else {
    throw new UsageError(`unknown keys action "${what ?? ''}"`);
  }
}
