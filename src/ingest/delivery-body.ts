import type { DeliveryBody, IngestEvent } from '../api/event.js';

/**
 * The delivery body of an event ({@link DeliveryBody}, plus `producer` when known) exactly as
 * `JSON.stringify` writes that object, but built from parts: ingest serialises the type once per
 * event type and the timestamp once per call (`typeJson`, `timestampJson` are already JSON), and
 * allocates no object per event. `test/unit/delivery-body.test.ts` holds it to `JSON.stringify`.
 */
export function deliveryBodyJson(id: string, typeJson: string, timestampJson: string, event: IngestEvent, producer?: string): string {
  const tail = producer ? `,"producer":${JSON.stringify(producer)}}` : '}';
  return `{"id":${JSON.stringify(id)},"type":${typeJson},"timestamp":${timestampJson},"userID":${JSON.stringify(event.userID)},"payload":${JSON.stringify(event.payload)}${tail}`;
}
