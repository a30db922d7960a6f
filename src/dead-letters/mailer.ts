import nodemailer from 'nodemailer';

export interface Mail {
  subject: string;
  text: string;
}

/** Sends an alert email; the one seam between Herald and SMTP so tests use a real SMTP server. */
export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** A nodemailer transport from an `smtp://user:pass@host:port` URL (`smtps://` for implicit TLS). */
export function createSmtpMailer(opts: { smtpUrl: string; from: string; to: string }): Mailer {
  // Bounded waits: an SMTP server that accepts and never answers must not hold a digest (or a shutdown) for long.
  const transport = nodemailer.createTransport(
    { url: opts.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as Parameters<typeof nodemailer.createTransport>[0],
    { from: opts.from },
  );
  return {
    async send(mail) {
      await transport.sendMail({ from: opts.from, to: opts.to, subject: mail.subject, text: mail.text });
    },
    close() {
      transport.close();
    },
  };
}
