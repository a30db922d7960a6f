import type { Logger } from '../log/logger.js';
import type { Clock } from './clock.js';
import type { ObjectMeta } from './destination-resource.js';
import type { ControllerKube } from './kube-client.js';
import { FIELD_MANAGER } from './names.js';
import { kubeTime } from './status.js';

/** Records Kubernetes Events on objects, so `kubectl describe dest` tells what the controller did. */
export interface EventRecorder {
  normal(obj: EventTarget, reason: string, message: string): void;
  warning(obj: EventTarget, reason: string, message: string): void;
}

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

/**
 * Fire-and-forget Events: a failure to record one is logged at debug level and never fails a
 * reconcile. The same event for the same object is recorded at most once per `dedupMs`, so a
 * Destination that keeps failing the same way does not flood etcd (client-go aggregates for the
 * same reason).
 */
export function createEventRecorder(deps: { kube: Pick<ControllerKube, 'createEvent'>; clock: Clock; logger: Logger; dedupMs?: number }): EventRecorder {
  const dedupMs = deps.dedupMs ?? 10 * 60_000;
  const recent = new Map<string, number>();
  const record = (type: 'Normal' | 'Warning', obj: EventTarget, reason: string, message: string) => {
    const now = deps.clock.now();
    const key = `${obj.metadata.uid}|${type}|${reason}|${message}`;
    const last = recent.get(key);
    if (last !== undefined && now - last < dedupMs) return;
    recent.set(key, now);
    if (recent.size > 1000) for (const [k, t] of recent) if (now - t >= dedupMs) recent.delete(k);
    const namespace = obj.metadata.namespace ?? 'default';
    const time = kubeTime(now);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${obj.metadata.name}.`, namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: FIELD_MANAGER },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    deps.kube.createEvent(namespace, event).catch((err: unknown) => deps.logger.debug({ err, reason }, 'Could not record event'));
  };
  return {
    normal: (obj, reason, message) => record('Normal', obj, reason, message),
    warning: (obj, reason, message) => record('Warning', obj, reason, message),
  };
}
