export interface LoadEvent {
  key: string;
  answers: (number | 'network')[];
  id?: string;
  error?: string;
}
export interface Tally {
  sent: number;
  accepted: number;
  notAccepted: number;
  delivered: number;
  duplicated: number;
  lost: number;
  unexpected5xx: number;
  strays: number;
  answers: Record<string, number>;
  lostIds: string[];
  duplicatedIds: string[];
  strayIds: string[];
}
export function tallyLoad(events: LoadEvent[], receivedIds: Iterable<string>): Tally;
export function formatTally(t: Tally): string;
export function retryable(answer: number | 'network'): boolean;
