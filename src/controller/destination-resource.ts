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
}

export interface DestinationStatus {
  observedGeneration?: number;
  conditions?: Condition[];
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

/** Condition types the controller maintains. */
export const CONDITION = { ready: 'Ready', progressing: 'Progressing', degraded: 'Degraded' } as const;
