/**
 * The Destination as the API server stores it: metadata plus a spec that has passed the CRD schema
 * but not yet zod (the controller parses it per reconcile), plus the status this controller writes.
 * Plain JSON shapes, as they travel on the wire.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** A metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  /** RFC 3339, whole seconds; changes only when `status` changes. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Delivery health read from Redis; counters are cumulative since the destination was created. */
export interface DeliveryHealth {
  backlog: number;
  oldestPendingSeconds: number;
  delivered: number;
  deadLettered: number;
  /** Dead letters stored right now. */
  deadLetters: number;
  lastError?: string;
  lastErrorTime?: string;
  lastSuccessTime?: string;
  /** The circuit breaker (spec.circuitBreaker) holds deliveries and probes the receiver. */
  circuitOpen?: boolean;
  /** Set while delivery is paused because the receiver answered 410 Gone for the current URL. */
  disabledReason?: string;
  disabledTime?: string;
  /** Ordered delivery (spec.ordering), while some key has an event pending. */
  ordering?: OrderingHealth;
}

/** The ordering keys of a destination, as status shows them. */
export interface OrderingHealth {
  keys: number;
  blockedKeys: number;
  /** Events waiting behind their key's head; not counted in `backlog`. */
  waiting: number;
  oldestWaitingTime?: string;
}

export interface DestinationStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** `Healthy`, or the Degraded condition's reason (DeliveryFailing, CircuitOpen, ...): the Health column. */
  health?: string;
  replicas?: number;
  readyReplicas?: number;
  delivery?: DeliveryHealth;
}

export interface DestinationResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: DestinationStatus;
}

/** The controlling owner of an object, if any. */
export function controllerOf(obj: { metadata?: { ownerReferences?: OwnerReference[] } } | undefined): OwnerReference | undefined {
  return obj?.metadata?.ownerReferences?.find((r) => r.controller);
}

/** `spec.url` of a spec that may not validate. */
export function specUrl(spec: unknown): string | undefined {
  const url = (spec as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' ? url : undefined;
}

/** Condition types the controller maintains. */
export const CONDITION = { ready: 'Ready', progressing: 'Progressing', degraded: 'Degraded' } as const;
