import type { Answer, ApiContract } from './api-contract.js';

/**
 * The answers of Herald's HTTP API the tests of this file received that break the OpenAPI document;
 * `api-contract-setup.ts` fails the test that received one. Fed by the fetch wrapper and by the
 * raw-socket helpers (raw-http.ts).
 */
const violations: string[] = [];
let contract: Promise<ApiContract> | undefined;

/** Loaded on first use, so a test file that never calls Herald does not compile the document. */
function loadContract(): Promise<ApiContract> {
  return (contract ??= import('./api-contract.js').then((m) => m.apiContract()));
}

/** Whether the document describes `method path`: only those answers are checked. */
export async function documented(method: string, path: string): Promise<boolean> {
  return (await loadContract()).describes(method, path);
}

/** Checks one answer against the document and keeps what is wrong with it. */
export async function recordAnswer(answer: Answer): Promise<void> {
  violations.push(...(await loadContract()).check(answer));
}

/** The violations recorded since the last call, and forgets them. */
export function takeViolations(): string[] {
  return violations.splice(0, violations.length);
}
