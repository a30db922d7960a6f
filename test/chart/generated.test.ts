import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helm.js';

describe('generated and copied files', () => {
  it('manifests/install.yaml, the chart’s CRD, alert rules and dashboards are up to date (make manifests)', () => {
    const r = spawnSync('bash', [join(ROOT, 'test/chart/sync-manifests.sh'), '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    // On failure the output lists each stale file and says to run `make manifests`.
    expect({ code: r.status, output: r.stdout + r.stderr }).toEqual({ code: 0, output: '' });
  });
});
