import { z } from 'zod';
import { stringify } from 'yaml';
import { DestinationSpec, NAME_MAX, NAME_PATTERN, SECRET_HEADER_NAMES } from '../api/destination.js';
import { PASS_THROUGH_PATHS } from '../api/pod-scheduling.js';
import { API_GROUP, API_VERSION, KIND, PLURAL } from './names.js';

/**
 * The Destination CustomResourceDefinition, generated from the zod schema in src/api/destination.ts
 * so the API server and Herald validate the same fields, defaults and limits. The committed
 * manifests/crds/destinations.herald.dev.yaml is this module's output; a unit test fails when they
 * differ. Regenerate with `npm run gen:crd`.
 */

/** A JSON Schema node as Kubernetes' structural OpenAPI v3 subset understands it. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode;
  items?: SchemaNode;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  [extension: `x-kubernetes-${string}`]: unknown;
}

/** One CEL rule of `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Where the generated CRD is committed, relative to the repository root. */
export const CRD_PATH = 'manifests/crds/destinations.herald.dev.yaml';

/** Keywords zod emits that carry meaning in a structural schema; anything else is a generator bug. */
const KEPT = new Set(['type', 'description', 'properties', 'additionalProperties', 'items', 'required', 'default', 'enum', 'format', 'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems']);

/**
 * Turns zod's JSON Schema output into a structural schema: drops `$schema` and the
 * `additionalProperties: false` that closes objects (Kubernetes prunes unknown fields instead and
 * rejects that keyword next to `properties`), keeps `additionalProperties` only on maps.
 * @throws Error naming the path of any keyword a structural schema cannot express (anyOf, $ref, ...),
 *   so a zod change that needs a hand-written rule fails the generator instead of silently loosening the CRD.
 */
export function toStructural(node: Record<string, unknown>, path = 'spec'): SchemaNode {
  // Kubernetes objects Herald passes to the worker pods unread; the API server checks them there.
  if (PASS_THROUGH_PATHS.includes(path)) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (!KEPT.has(key)) throw new Error(`${path}: zod emitted "${key}", which a structural CRD schema cannot express; add a CEL rule in crd.ts instead`);
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, Record<string, unknown>>).map(([k, v]) => [k, toStructural(v, `${path}.${k}`)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = toStructural(value as Record<string, unknown>, `${path}${key === 'items' ? '[*]' : '.*'}`);
    } else {
      (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

/** The spec schema exactly as zod describes it (input side, so defaulted fields are optional). */
export function zodSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DestinationSpec, { io: 'input', target: 'openapi-3.0' }) as Record<string, unknown>;
}

/** `kubectl explain` texts, by dotted path under spec. A test checks every path exists. */
export const DESCRIPTIONS: Record<string, string> = {
  '': 'How Herald delivers events to one webhook receiver.',
  url: 'Absolute http:// or https:// URL events are POSTed to.',
  timeout: 'Deadline for one delivery attempt (connect, send, read the response), e.g. "10s".',
  retry: 'When failed deliveries are retried and when they are dead-lettered.',
  'retry.maxAttempts': 'Total attempts including the first.',
  'retry.backoff': 'How the delay grows between attempts when no schedule is given.',
  'retry.initialDelay': 'Delay before the second attempt.',
  'retry.maxDelay': 'Upper bound of any delay between attempts.',
  'retry.schedule': 'Explicit delays before attempts 2, 3, ...; replaces backoff and initialDelay; the last entry repeats.',
  'retry.maxRetryWindow': 'Time after the first attempt when retrying stops, whatever maxAttempts says.',
  filter: 'Which events this destination receives.',
  'filter.types': 'Glob patterns (* matches any run of characters) on the event type; empty matches every event.',
  concurrency: 'Deliveries in flight at once per worker replica.',
  headers: 'Extra HTTP headers sent with every delivery. Credentials belong in headersFrom, never here.',
  headersFrom: 'Headers read from a Secret in the same namespace, mounted into the workers.',
  'headersFrom.secretRef': 'The Secret: each key is a header name, each value its value.',
  'headersFrom.secretRef.name': 'Name of the Secret.',
  paused: 'When true, events keep queueing but none is delivered until it is false again.',
  deletionPolicy: 'What happens to queued events when this Destination is deleted: drain (deliver them first), keep (leave them in Redis), purge (delete them).',
  workers: 'The worker Deployment that delivers this destination\'s events.',
  'workers.replicas': 'Worker pods to run; ignored when scaling is set.',
  'workers.resources': 'Container resource requests and limits of the workers (quantities as strings, e.g. "100m", "128Mi").',
  'workers.nodeSelector': 'Node labels worker pods must run on; replaces the chart\'s worker.nodeSelector.',
  'workers.tolerations': 'Taints worker pods tolerate; replaces the chart\'s worker.tolerations.',
  'workers.affinity': 'Pod affinity of the workers (a Kubernetes Affinity); replaces the chart\'s worker.affinity.',
  'workers.topologySpreadConstraints': 'How worker pods spread over zones or nodes (Kubernetes TopologySpreadConstraints); replace the chart\'s worker.topologySpreadConstraints.',
  scaling: 'Autoscaling of the workers on their backlog: when set, the controller creates the scaler the installation selects (a KEDA ScaledObject or an HPA) and leaves the replica count to it; removing it removes the scaler.',
  'scaling.minReplicas': 'Fewest worker pods; 0 lets KEDA scale an idle destination to zero (an HPA keeps at least 1).',
  'scaling.maxReplicas': 'Most worker pods.',
  'scaling.targetBacklog': 'Backlog (herald_queue_backlog: waiting, delayed, prioritised, paused and active deliveries) one replica is expected to carry.',
};

const QUANTITY_RULE = "['cpu', 'memory', 'ephemeral-storage'].all(k, !(k in self) || isQuantity(self[k]))";
const lowerList = (names: readonly string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;
/** Mirrors RESERVED_HEADERS in src/api/destination.ts (not exported there); the zod-vs-CRD test checks both reject the same names. */
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'transfer-encoding', 'connection'];

/**
 * Cross-field and map rules zod expresses with `.refine()`, which JSON Schema cannot carry. Keyed by
 * dotted path under spec; messages match zod's so users see the same text from kubectl and Herald.
 */
export const CEL_RULES: Record<string, CelRule[]> = {
  url: [
    {
      rule: "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
      message: 'url must be an absolute http:// or https:// URL',
    },
  ],
  retry: [
    {
      // CEL's duration() speaks Go durations, which have no "d" unit; day-valued pairs are checked
      // by the controller (zod) and reported as InvalidSpec instead.
      rule: "!has(self.initialDelay) || !has(self.maxDelay) || self.initialDelay.contains('d') || self.maxDelay.contains('d') || duration(self.initialDelay) <= duration(self.maxDelay)",
      message: 'initialDelay must not exceed maxDelay',
      fieldPath: '.initialDelay',
    },
  ],
  headers: [
    { rule: "self.all(k, k.matches('^[!#$%&\\'*+.^_`|~0-9A-Za-z-]+$'))", message: 'header names must be HTTP tokens' },
    {
      rule: `self.all(k, !(k.lowerAscii() in ${lowerList(SECRET_HEADER_NAMES)}))`,
      message: `credential headers (${SECRET_HEADER_NAMES.join(', ')}) must come from headersFrom.secretRef, not inline`,
    },
    { rule: `self.all(k, !(k.lowerAscii() in ${lowerList(RESERVED_HEADERS)}))`, message: `headers must not override ${RESERVED_HEADERS.join(', ')}` },
  ],
  // Only the well-known resources: a rule over every key of an unbounded map exceeds the API
  // server's CEL cost budget. Other keys (hugepages, GPUs) are checked when the Deployment is applied.
  'workers.resources.requests': [{ rule: QUANTITY_RULE, message: 'cpu, memory and ephemeral-storage requests must be quantities such as "100m", "0.5" or "128Mi"' }],
  'workers.resources.limits': [{ rule: QUANTITY_RULE, message: 'cpu, memory and ephemeral-storage limits must be quantities such as "100m", "0.5" or "128Mi"' }],
  scaling: [
    {
      rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
      message: 'minReplicas must not exceed maxReplicas',
      fieldPath: '.minReplicas',
    },
  ],
};

/** Returns the node at a dotted path under `root` (which is the spec schema), or undefined. */
export function schemaAt(root: SchemaNode, path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const part of path === '' ? [] : path.split('.')) node = node?.properties?.[part];
  return node;
}

/** The structural spec schema: zod's fields, defaults and limits plus descriptions and CEL rules. */
export function specSchema(): SchemaNode {
  const spec = toStructural(zodSpecJsonSchema());
  for (const [path, text] of Object.entries(DESCRIPTIONS)) {
    const node = schemaAt(spec, path);
    if (!node) throw new Error(`DESCRIPTIONS names spec.${path}, which the zod schema does not have`);
    node.description = text;
  }
  for (const [path, rules] of Object.entries(CEL_RULES)) {
    const node = schemaAt(spec, path);
    if (!node) throw new Error(`CEL_RULES names spec.${path}, which the zod schema does not have`);
    node['x-kubernetes-validations'] = rules;
  }
  return spec;
}

const int64 = { type: 'integer', format: 'int64' } as const;

/** The status schema: written by the controller only, so it is defined here rather than in zod. */
export function statusSchema(): SchemaNode {
  return {
    type: 'object',
    description: 'Observed state, written by the Herald controller.',
    properties: {
      observedGeneration: { ...int64, description: 'metadata.generation this status describes.' },
      health: { type: 'string', maxLength: 316, description: 'Healthy, or why the destination is Degraded (the Degraded condition\'s reason, e.g. DeliveryFailing, CircuitOpen, BacklogStale).' },
      conditions: {
        type: 'array',
        description: 'Ready, Progressing and Degraded, with reasons and messages a human can act on.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        items: {
          type: 'object',
          required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
          properties: {
            type: { type: 'string', maxLength: 316 },
            status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
            reason: { type: 'string', maxLength: 1024 },
            message: { type: 'string', maxLength: 32768 },
            lastTransitionTime: { type: 'string', format: 'date-time' },
            observedGeneration: { ...int64, minimum: 0 },
          },
        },
      },
      replicas: { type: 'integer', format: 'int32', description: 'Worker pods that exist.' },
      readyReplicas: { type: 'integer', format: 'int32', description: 'Worker pods that are ready.' },
      delivery: {
        type: 'object',
        description: 'Delivery health read from Redis.',
        properties: {
          backlog: { ...int64, description: 'Events not yet delivered or dead-lettered (waiting, retry scheduled, in flight).' },
          oldestPendingSeconds: { ...int64, description: 'Age of the oldest event waiting to be sent, 0 when none waits.' },
          delivered: { ...int64, description: 'Events delivered since the destination was created.' },
          deadLettered: { ...int64, description: 'Events dead-lettered since the destination was created.' },
          deadLetters: { ...int64, description: 'Dead letters stored now, until replayed or purged.' },
          lastError: { type: 'string', maxLength: 1024, description: 'The most recent delivery error.' },
          lastErrorTime: { type: 'string', format: 'date-time' },
          lastSuccessTime: { type: 'string', format: 'date-time' },
          circuitOpen: { type: 'boolean', description: 'The circuit breaker holds deliveries and probes the receiver.' },
          disabledReason: { type: 'string', maxLength: 1024, description: 'Why delivery is paused: the receiver answered 410 Gone for the current URL.' },
          disabledTime: { type: 'string', format: 'date-time' },
          ordering: {
            type: 'object',
            description: 'Ordered delivery per key (spec.ordering); absent when no key has an event pending.',
            properties: {
              keys: { ...int64, description: 'Keys with an event not yet delivered or dead-lettered.' },
              blockedKeys: { ...int64, description: 'Keys held by a dead-lettered event until it is replayed or skipped.' },
              waiting: { ...int64, description: 'Events waiting behind their key\'s head (not in backlog).' },
              oldestWaitingTime: { type: 'string', format: 'date-time', description: 'When the oldest pending event of any key was accepted.' },
            },
          },
        },
      },
    },
  };
}

/** The whole CustomResourceDefinition object. */
export function destinationCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'herald', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: API_GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'destination', shortNames: ['dest'], categories: ['herald'] },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'URL', type: 'string', jsonPath: '.spec.url' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Workers run the current spec.' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Why Ready is what it is.' },
            { name: 'Health', type: 'string', jsonPath: '.status.health', description: 'Healthy, or why deliveries are degraded (the Degraded condition\'s reason).' },
            { name: 'Workers', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Worker pods that are ready.' },
            { name: 'Backlog', type: 'integer', jsonPath: '.status.delivery.backlog', description: 'Events not yet delivered or dead-lettered.' },
            { name: 'Dead', type: 'integer', jsonPath: '.status.delivery.deadLetters', description: 'Dead letters stored now, until replayed or purged.' },
            { name: 'Delivered', type: 'integer', jsonPath: '.status.delivery.delivered', description: 'Events delivered since creation.' },
            { name: 'Failed', type: 'integer', jsonPath: '.status.delivery.deadLettered', description: 'Events dead-lettered since creation.', priority: 1 },
            { name: 'Blocked', type: 'integer', jsonPath: '.status.delivery.ordering.blockedKeys', description: 'Ordering keys held by a dead letter (spec.ordering.onDeadLetter: block) until it is replayed or skipped.', priority: 1 },
            { name: 'Oldest-Ordered', type: 'date', jsonPath: '.status.delivery.ordering.oldestWaitingTime', description: 'When the oldest event of an ordering key still not delivered or dead-lettered was accepted.', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A webhook receiver Herald delivers events to. The controller runs one worker Deployment per Destination.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
              'x-kubernetes-validations': [
                // Names become Deployment names (herald-worker-<name>) and label values.
                { rule: `self.metadata.name.size() <= ${NAME_MAX}`, message: `name must be at most ${NAME_MAX} characters` },
                { rule: `self.metadata.name.matches('${NAME_PATTERN}')`, message: 'name must be lower-case letters, digits and "-" (DNS-1123 label)' },
              ],
            },
          },
        },
      ],
    },
  };
}

/** The CRD as committed YAML, with a header saying where it comes from. */
export function destinationCrdYaml(): string {
  const header = [
    '# Generated by src/controller/crd.ts from the zod schema in src/api/destination.ts. Do not edit:',
    '# change the schema and run `npm run gen:crd` (test/unit/controller/crd.test.ts checks this file).',
  ].join('\n');
  return `${header}\n${stringify(destinationCrd(), { lineWidth: 0 })}`;
}
