/**
 * Just enough of a Dockerfile parser for test/image: stages with their COPY, RUN, USER and
 * ENTRYPOINT instructions, and .dockerignore matching with Docker's rules.
 */

export interface Copy {
  /** Stage name of `--from`, or undefined for the build context. */
  from: string | undefined;
  sources: string[];
  dest: string;
}

export interface Stage {
  name: string;
  base: string;
  workdir: string;
  copies: Copy[];
  /** RUN commands with `--mount=...` flags removed and line continuations joined. */
  runs: string[];
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** Joins continuation lines and drops comments and blank lines. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    current += line.trim();
    if (current.trim() !== '') out.push(current.trim());
    current = '';
  }
  return out;
}

function flagsAndArgs(rest: string): { flags: Record<string, string>; args: string } {
  const flags: Record<string, string> = {};
  let s = rest.trim();
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s+/.exec(s);
    if (!m) break;
    flags[m[1]!] = m[2]!;
    s = s.slice(m[0].length);
  }
  return { flags, args: s };
}

function execForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`expected the exec (JSON array) form, got ${args}`);
  return parsed as string[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const args: Record<string, string> = {};
  for (const ins of instructions(text)) {
    const [keyword, ...restParts] = ins.split(/\s+/);
    const rest = restParts.join(' ');
    const kw = keyword!.toUpperCase();
    const stage = stages.at(-1);
    if (kw === 'ARG' && !stage) {
      const [k, v = ''] = rest.split('=');
      args[k!] = v;
      continue;
    }
    if (kw === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`cannot parse FROM ${rest}`);
      const base = m[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), base, workdir: '/', copies: [], runs: [] });
      continue;
    }
    if (!stage) continue;
    switch (kw) {
      case 'WORKDIR':
        stage.workdir = rest.startsWith('/') ? rest : `${stage.workdir.replace(/\/$/, '')}/${rest}`;
        break;
      case 'COPY': {
        const { flags, args: a } = flagsAndArgs(rest);
        const parts = a.split(/\s+/);
        stage.copies.push({ from: flags.from, sources: parts.slice(0, -1), dest: parts.at(-1)! });
        break;
      }
      case 'RUN':
        stage.runs.push(flagsAndArgs(rest).args.replace(/\s+/g, ' '));
        break;
      case 'USER':
        stage.user = rest;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(rest);
        break;
      case 'CMD':
        stage.cmd = execForm(rest);
        break;
      default:
        break;
    }
  }
  return stages;
}

/** One .dockerignore rule: a pattern, negated with a leading `!`. */
interface Rule {
  negate: boolean;
  re: RegExp;
}

function patternToRegExp(pattern: string): RegExp {
  // Docker cleans patterns like filepath.Clean: no leading "/" or "./", no trailing "/".
  const p = pattern.replace(/^\.?\//, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      re += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): Rule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.startsWith('!') ? { negate: true, re: patternToRegExp(l.slice(1).trim()) } : { negate: false, re: patternToRegExp(l) }));
}

/**
 * Whether a context path is left out of the build context. As in Docker, the last matching rule
 * wins, and a rule matching a parent directory matches everything under it.
 */
export function isIgnored(rules: Rule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((p) => rule.re.test(p))) ignored = !rule.negate;
  }
  return ignored;
}
