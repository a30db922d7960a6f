/**
 * What a delivery job carries (ADR 0007). An event that goes to this destination only carries its
 * delivery body in the job (`b`), so the worker finds it in the job BullMQ already fetched. An event
 * for several destinations is stored once in the EventStore and its jobs carry only the id.
 * Kept beside the key layout: the queue, the body store and the dead-letter store all read it.
 */
export interface DeliveryJobData {
  /** Event id. */
  e: string;
  /** The delivery body, serialised once at ingest, when no other destination shares it. */
  b?: string;
  /** When a dead letter was replayed: the retry window starts again from here. */
  r?: number;
  /** The ordering key when the destination orders deliveries and the event has one (ADR 0013). */
  k?: string;
}
