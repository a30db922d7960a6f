import { describe, expect, it } from 'vitest';
import { nextDeletionStep, type DeletionState, type DeletionStep } from '../../../src/controller/deletion.js';

const NOW = 1_000_000;
const base: DeletionState = { policy: 'keep', now: NOW, registry: 'routing', deployment: { specReplicas: 2, podReplicas: 2 }, workersCanDeliver: true, backlog: 0, settleMs: 10_000 };

/** Runs the finalizer to completion, applying each step's effect to the state, like the reconciler does. */
function run(state: DeletionState, effects: Partial<Record<DeletionStep['do'], (s: DeletionState) => void>> = {}): string[] {
  const steps: string[] = [];
  let s = { ...state };
  for (let i = 0; i < 20; i++) {
    const step = nextDeletionStep(s);
    steps.push(step.do === 'wait' ? `wait:${step.reason}` : step.do);
    if (step.do === 'wait' || step.do === 'removeFinalizer') return steps;
    s = { ...s };
    if (step.do === 'stopRouting') s.registry = 'draining';
    if (step.do === 'unpublish') s.registry = 'absent';
    if (step.do === 'scaleDown') s.deployment = { ...s.deployment!, specReplicas: 0 };
    if (step.do === 'deleteDeployment') s.deployment = undefined;
    if (step.do === 'purgeQueue') s.purged = true;
    effects[step.do]?.(s);
  }
  throw new Error('no end');
}

describe('nextDeletionStep', () => {
  it('keep: stops routing, deletes the workers, removes the finalizer; the queue stays', () => {
    expect(run(base)).toEqual(['unpublish', 'deleteDeployment', 'removeFinalizer']);
  });

  it('purge: stops routing, scales to zero and waits for the pods before deleting anything', () => {
    expect(run({ ...base, policy: 'purge' })).toEqual(['unpublish', 'scaleDown', 'wait:Purging']);
    const podsGone = { ...base, policy: 'purge' as const, registry: 'absent' as const, deployment: { specReplicas: 0, podReplicas: 0 } };
    expect(run(podsGone)).toEqual(['deleteDeployment', 'purgeQueue', 'removeFinalizer']);
  });

  it('purge: resumes after a crash once the Deployment is gone, purging again (idempotently)', () => {
    expect(run({ ...base, policy: 'purge', registry: 'absent', deployment: undefined })).toEqual(['purgeQueue', 'removeFinalizer']);
  });

  it('drain: stops routing, then waits for ingest to settle and the backlog to empty', () => {
    expect(run({ ...base, policy: 'drain', backlog: 5 })).toEqual(['stopRouting', 'wait:Draining']);
    const draining = { ...base, policy: 'drain' as const, registry: 'draining' as const, drainingSince: NOW - 3_000 };
    const settle = nextDeletionStep({ ...draining, backlog: 0 });
    expect(settle).toMatchObject({ do: 'wait', afterMs: 7_000 });
    const pending = nextDeletionStep({ ...draining, drainingSince: NOW - 60_000, backlog: 5 });
    expect(pending).toMatchObject({ do: 'wait', reason: 'Draining' });
    expect((pending as { message: string }).message).toContain('5 events pending');
    expect(run({ ...draining, drainingSince: NOW - 60_000, backlog: 0 })).toEqual(['unpublish', 'deleteDeployment', 'removeFinalizer']);
  });

  it('drain: says how to get unstuck when paused or scaled-to-zero workers cannot drain', () => {
    const step = nextDeletionStep({ ...base, policy: 'drain', registry: 'draining', drainingSince: NOW - 60_000, backlog: 3, workersCanDeliver: false });
    expect(step).toMatchObject({ do: 'wait', reason: 'DrainStalled' });
    expect((step as { message: string }).message).toMatch(/deletionPolicy to keep or purge/);
  });

  it('drain: waits rather than guessing when Redis cannot be read', () => {
    expect(nextDeletionStep({ ...base, policy: 'drain', registry: 'draining', backlog: undefined })).toMatchObject({ do: 'wait', reason: 'Draining' });
  });

  it('drain: a destination never published (or already unpublished) is deleted at once', () => {
    expect(run({ ...base, policy: 'drain', registry: 'absent', backlog: 100 })).toEqual(['deleteDeployment', 'removeFinalizer']);
  });

  it('finishes at once when nothing is left', () => {
    expect(run({ ...base, registry: 'absent', deployment: undefined })).toEqual(['removeFinalizer']);
  });
});
