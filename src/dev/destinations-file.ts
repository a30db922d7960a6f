import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { Destination, type ResolvedDestination } from '../api/destination.js';

export class DestinationsFileError extends Error {
  readonly code = 'HERALD_DESTINATIONS_FILE';
}

/**
 * Parses a multi-document YAML file of Destination objects (the same objects `kubectl apply` takes).
 * Every problem is reported with its document number and field path, all at once.
 */
export function parseDestinations(text: string, source = 'destinations file'): ResolvedDestination[] {
  const problems: string[] = [];
  const out: ResolvedDestination[] = [];
  const docs = parseAllDocuments(text);
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      problems.push(`document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return;
    const parsed = Destination.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`document ${i + 1}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      return;
    }
    out.push({ name: parsed.data.metadata.name, spec: parsed.data.spec });
  });
  const seen = new Set<string>();
  for (const d of out) {
    if (seen.has(d.name)) problems.push(`destination "${d.name}" is declared twice`);
    seen.add(d.name);
  }
  if (problems.length > 0) throw new DestinationsFileError(`invalid ${source}:\n  ${problems.join('\n  ')}`);
  return out;
}

export async function loadDestinationsFile(path: string): Promise<ResolvedDestination[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DestinationsFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseDestinations(text, path);
}
