import { describe, expect, it } from 'vitest';
import { DestinationSpec } from '../../../src/api/destination.js';
import type { DeliveryHealth } from '../../../src/controller/destination-resource.js';
import { desiredStatus, kubeTime, statusEqual, summarizeDeployment, type DeploymentState, type StatusInput } from '../../../src/controller/status.js';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const spec = DestinationSpec.parse({ url: 'https://example.com/hook', workers: { replicas: 2 } });
const healthy: DeliveryHealth = { backlog: 0, oldestPendingSeconds: 0, delivered: 10, deadLettered: 0, deadLetters: 0 };
const rolledOut: DeploymentState = { wantReplicas: 2, generation: 3, observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, progressDeadlineExceeded: false };

function input(over: Partial<StatusInput> = {}): StatusInput {
  return { now: NOW, generation: 4, namespace: 'shop', deploymentName: 'herald-worker-orders', spec, deployment: rolledOut, health: healthy, ...over };
}
const cond = (s: ReturnType<typeof desiredStatus>, type: string) => s.conditions!.find((c) => c.type === type)!;
const summary = (s: ReturnType<typeof desiredStatus>) => Object.fromEntries(s.conditions!.map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('desiredStatus', () => {
  it('is Ready, not Progressing, not Degraded when all workers run the current config and deliveries succeed', () => {
    const s = desiredStatus(input());
    expect(summary(s)).toEqual({ Ready: 'True/WorkersReady', Progressing: 'False/RolloutComplete', Degraded: 'False/AsExpected' });
    expect(s).toMatchObject({ observedGeneration: 4, replicas: 2, readyReplicas: 2, delivery: healthy, health: 'Healthy' });
    expect(cond(s, 'Ready').observedGeneration).toBe(4);
  });

  it('shows a destination failing every delivery as Ready with Health DeliveryFailing (the kubectl get dest columns)', () => {
    const failing = { ...healthy, deadLettered: 50, deadLetters: 50, lastError: 'HTTP 500', lastErrorTime: kubeTime(NOW - 1_000) };
    const s = desiredStatus(input({ health: failing }));
    expect(cond(s, 'Ready').status).toBe('True');
    expect(s.health).toBe('DeliveryFailing');
    expect(s.delivery?.deadLetters).toBe(50);
  });

  it('reports a rollout in progress with counts', () => {
    const s = desiredStatus(input({ deployment: { ...rolledOut, generation: 4, updatedReplicas: 1, availableReplicas: 1 } }));
    expect(summary(s)).toMatchObject({ Ready: 'False/WorkersNotReady', Progressing: 'True/RollingOut' });
    expect(cond(s, 'Progressing').message).toBe('Rolling out workers: 1/2 updated, 1/2 available.');
    expect(cond(s, 'Ready').message).toContain('kubectl -n shop describe deployment herald-worker-orders');
  });

  it('says Creating before the Deployment exists', () => {
    expect(summary(desiredStatus(input({ deployment: undefined })))).toMatchObject({ Ready: 'False/Creating', Progressing: 'True/Creating' });
  });

  it('explains a paused destination and one scaled to zero', () => {
    const paused = desiredStatus(input({ spec: { ...spec, paused: true } }));
    expect(cond(paused, 'Ready')).toMatchObject({ status: 'False', reason: 'Paused' });
    expect(cond(paused, 'Ready').message).toMatch(/spec\.paused/);
    const zero = desiredStatus(input({ deployment: { ...rolledOut, wantReplicas: 0, replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 } }));
    expect(cond(zero, 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
    const idle = desiredStatus(input({ spec: DestinationSpec.parse({ url: 'https://e.test', scaling: { minReplicas: 0 } }), deployment: { ...rolledOut, wantReplicas: 0, replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 } }));
    expect(cond(idle, 'Ready')).toMatchObject({ status: 'True', reason: 'Idle' });
  });

  it('is Degraded with AutoscalerUnavailable while the scaler’s API is not served, and shows autoscaling notes in Ready', () => {
    const scaled = DestinationSpec.parse({ url: 'https://e.test', scaling: { minReplicas: 2 } });
    const missing = desiredStatus(input({ spec: scaled, autoscaling: { unavailable: 'KEDA is not installed: install it.' } }));
    expect(summary(missing)).toMatchObject({ Ready: 'True/WorkersReady', Degraded: 'True/AutoscalerUnavailable' });
    expect(cond(missing, 'Degraded').message).toBe('KEDA is not installed: install it.');
    const failed = desiredStatus(input({ spec: scaled, autoscaling: { error: 'The API server refused ScaledObject x.' } }));
    expect(summary(failed)).toMatchObject({ Degraded: 'True/AutoscalerFailed' });
    const noted = desiredStatus(input({ spec: scaled, autoscaling: { note: 'HorizontalPodAutoscalers cannot scale to zero.' } }));
    expect(cond(noted, 'Ready').message).toBe('2/2 workers ready. HorizontalPodAutoscalers cannot scale to zero.');
    expect(summary(noted)).toMatchObject({ Degraded: 'False/AsExpected' });
  });

  it('marks an invalid spec on all three conditions with the validation message', () => {
    const s = desiredStatus(input({ spec: undefined, invalidSpec: 'spec.retry.initialDelay: initialDelay must not exceed maxDelay' }));
    expect(summary(s)).toEqual({ Ready: 'False/InvalidSpec', Progressing: 'False/InvalidSpec', Degraded: 'True/InvalidSpec' });
    expect(cond(s, 'Ready').message).toContain('initialDelay must not exceed maxDelay');
  });

  it('reports a Deployment owned by someone else and one the API server refused', () => {
    expect(summary(desiredStatus(input({ conflict: 'Deployment x is controlled by ReplicaSet y' })))).toMatchObject({ Ready: 'False/DeploymentConflict', Degraded: 'True/DeploymentConflict' });
    const refused = desiredStatus(input({ applyError: 'exceeded quota' }));
    expect(summary(refused)).toMatchObject({ Ready: 'False/ApplyFailed', Degraded: 'True/ApplyFailed' });
    expect(cond(refused, 'Degraded').message).toContain('exceeded quota');
  });

  it('is Degraded when the rollout exceeded its progress deadline', () => {
    const s = desiredStatus(input({ deployment: { ...rolledOut, progressDeadlineExceeded: true } }));
    expect(summary(s)).toMatchObject({ Progressing: 'False/ProgressDeadlineExceeded', Degraded: 'True/RolloutStuck' });
  });

  it('is Degraded while deliveries fail, naming the last error, until a success or 15 minutes pass', () => {
    const failing = { ...healthy, lastError: 'HTTP 503 from receiver', lastErrorTime: kubeTime(NOW - 60_000), lastSuccessTime: kubeTime(NOW - 120_000) };
    const s = desiredStatus(input({ health: failing }));
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'DeliveryFailing' });
    expect(cond(s, 'Degraded').message).toContain('HTTP 503 from receiver');
    expect(cond(desiredStatus(input({ health: { ...failing, lastSuccessTime: kubeTime(NOW - 1_000) } })), 'Degraded').reason).toBe('AsExpected');
    expect(cond(desiredStatus(input({ now: NOW + 16 * 60_000, health: failing })), 'Degraded').reason).toBe('AsExpected');
  });

  it('is Degraded when the oldest pending event waits over 10 minutes, unless paused', () => {
    const stale = { ...healthy, backlog: 500, oldestPendingSeconds: 900 };
    expect(cond(desiredStatus(input({ health: stale })), 'Degraded').reason).toBe('BacklogStale');
    expect(cond(desiredStatus(input({ health: stale, spec: { ...spec, paused: true } })), 'Degraded').reason).toBe('AsExpected');
  });

  it('says how to recover when the receiver answered 410 Gone', () => {
    const s = desiredStatus(input({ health: { ...healthy, disabledReason: '410 Gone', disabledTime: '2030-01-01T11:00:00Z' } }));
    expect(summary(s)).toMatchObject({ Ready: 'False/ReceiverGone', Degraded: 'True/ReceiverGone' });
    expect(cond(s, 'Ready').message).toContain('herald resume --destination orders');
    expect(cond(s, 'Ready').message).toContain('Change spec.url');
  });

  it('is Degraded while the circuit breaker holds deliveries', () => {
    const s = desiredStatus(input({ health: { ...healthy, circuitOpen: true, lastError: 'HTTP 503', lastErrorTime: kubeTime(NOW - 1_000) } }));
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'CircuitOpen' });
    expect(cond(s, 'Ready').reason).toBe('WorkersReady');
  });

  it('keeps the last known delivery figures when Redis cannot be read, and says so', () => {
    const previous = desiredStatus(input());
    const s = desiredStatus(input({ previous, health: undefined, redisError: 'connect ECONNREFUSED' }));
    expect(s.delivery).toEqual(healthy);
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'RedisUnavailable' });
  });

  it('shows the deletion step while the finalizer works', () => {
    const s = desiredStatus(input({ deleting: { reason: 'Draining', message: 'Draining: 3 events pending.' } }));
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'Draining', message: 'Draining: 3 events pending.' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Draining' });
  });

  it('keeps lastTransitionTime when a condition keeps its status, so unchanged input yields an equal status', () => {
    const first = desiredStatus(input());
    const later = desiredStatus(input({ now: NOW + 3_600_000, previous: first }));
    expect(statusEqual(first, later)).toBe(true);
    // A new message alone is not a transition either.
    const moreReady = desiredStatus(input({ now: NOW + 7_200_000, previous: first, deployment: { ...rolledOut, availableReplicas: 3 } }));
    expect(cond(moreReady, 'Ready').lastTransitionTime).toBe(cond(first, 'Ready').lastTransitionTime);
  });

  it('moves lastTransitionTime when a condition flips', () => {
    const first = desiredStatus(input());
    const flipped = desiredStatus(input({ now: NOW + 5_000, previous: first, deployment: { ...rolledOut, availableReplicas: 0 } }));
    expect(cond(flipped, 'Ready').lastTransitionTime).toBe(kubeTime(NOW + 5_000));
    expect(cond(flipped, 'Degraded').lastTransitionTime).toBe(cond(first, 'Degraded').lastTransitionTime);
  });
});

describe('kubeTime', () => {
  it('has whole seconds, as the API server stores times', () => {
    expect(kubeTime(Date.UTC(2030, 0, 1, 0, 0, 1, 999))).toBe('2030-01-01T00:00:01Z');
  });
});

describe('summarizeDeployment', () => {
  it('reads counts and a stuck rollout from a Deployment status, defaulting absent fields', () => {
    expect(summarizeDeployment({ metadata: { generation: 2 }, spec: { selector: {}, template: {} } })).toMatchObject({ wantReplicas: 1, observedGeneration: 0, availableReplicas: 0, progressDeadlineExceeded: false });
    const stuck = summarizeDeployment({ spec: { replicas: 3, selector: {}, template: {} }, status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] } });
    expect(stuck).toMatchObject({ wantReplicas: 3, progressDeadlineExceeded: true });
  });
});

describe('desiredStatus with a URL the SSRF guard refuses', () => {
  it('is Degraded/DestinationBlocked and not Ready, saying how to allow the network', () => {
    const s = desiredStatus(input({ blockedUrl: '10.0.0.5 is private (RFC 1918)' }));
    expect(summary(s)).toMatchObject({ Ready: 'False/DestinationBlocked', Degraded: 'True/DestinationBlocked' });
    const degraded = s.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded?.message).toContain('10.0.0.5 is private');
    expect(degraded?.message).toContain('deliveryAllowCIDRs');
  });
});
