/**
 * Which Node Herald runs on. This module imports nothing, so `cmd/herald.ts` can load it and refuse
 * an old Node before any module that needs a newer one is parsed.
 */

/**
 * The oldest Node.js major Herald supports: the Node the image ships (Node 24 LTS). Kept equal to
 * package.json's `engines.node` and to the major of test/tools/node-version (a unit test checks).
 */
export const NODE_FLOOR_MAJOR = 24;

/**
 * Decides whether Node `version` (as in `process.versions.node`, e.g. "20.20.2") may run Herald.
 * Returns undefined when it may, or the one line to print before exiting 1: the required version,
 * the running one, and how to get the required one. A version that does not parse is refused.
 */
export function unsupportedNodeMessage(version: string, floor: number = NODE_FLOOR_MAJOR): string | undefined {
  const major = /^v?(\d+)\.\d+\.\d+/.exec(version)?.[1];
  if (major !== undefined && Number(major) >= floor) return undefined;
  const running = version.startsWith('v') ? version : `v${version}`;
  return (
    `herald: Node.js ${floor} or later is required, this is Node.js ${running}; ` +
    `install Node.js ${floor} LTS (in a Herald checkout: PATH="$(bash test/tools/node.sh):$PATH")`
  );
}
