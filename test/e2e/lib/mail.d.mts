export interface Mail {
  subject: string;
  to: string[];
  from: string;
  text: string;
}
export function normalizeMails(listing: unknown): Mail[];
export function mails(): Promise<Mail[]>;
