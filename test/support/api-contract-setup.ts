/**
 * Installed for every test file (vitest `setupFiles`): each answer a test receives from a documented
 * route of a local Herald server (ingest, a worker's operations routes, `herald dev`) is checked
 * against the OpenAPI document, and a test that received one which breaks it fails, naming the
 * request, the status and what does not match. Answers read over raw sockets are checked by
 * raw-http.ts through the same log.
 */
import { afterAll, afterEach } from 'vitest';
import { documented, recordAnswer, takeViolations } from './contract-log.js';

const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);
const fetchUnchecked = globalThis.fetch;

globalThis.fetch = async function fetchChecked(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetchUnchecked(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  if (!LOCAL.has(url.hostname) || !(await documented(method, url.pathname))) return res;
  let body: string;
  try {
    // A copy, so the test still reads the answer itself.
    body = await res.clone().text();
  } catch {
    return res; // the connection broke mid-answer: the test sees that itself
  }
  await recordAnswer({ method, path: url.pathname, status: res.status, headers: Object.fromEntries(res.headers), body });
  return res;
};

function failOnViolations(): void {
  const found = takeViolations();
  if (found.length > 0) throw new Error(`answers that break the OpenAPI document (docs/openapi.json):\n- ${found.join('\n- ')}`);
}

afterEach(failOnViolations);
afterAll(failOnViolations);
