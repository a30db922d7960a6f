// SMTP sink for `make e2e`: accepts every message on SMTP_PORT (default 1025, plain SMTP, any or
// no AUTH) and keeps it in memory; HTTP_PORT (default 8025) lists them with the part of Mailpit's
// API that the end-to-end test reads, so the same assertions work against Mailpit too.
//
//   GET    /api/v1/messages       {"total","count","messages":[{ID,MessageID,From,To,Cc,Recipients,Subject,Created,Size,Snippet}]}, newest first
//                                 (also at /messages)
//   GET    /api/v1/message/:id    the summary plus Text, HTML and Headers (name -> [values])
//   DELETE /api/v1/messages       forget every message
//   GET    /readyz, /livez        200 once both servers listen
//
// Addresses are {Name, Address} objects as in Mailpit. Real parts only: smtp-server speaks SMTP,
// mailparser decodes MIME (multipart, quoted-printable, base64, RFC 2047 headers).
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const SMTP_PORT = Number(process.env.SMTP_PORT ?? 1025);
const HTTP_PORT = Number(process.env.HTTP_PORT ?? 8025);
// Bounded so a runaway sender cannot exhaust the pod's memory; the oldest are dropped first.
const MAX_MESSAGES = Number(process.env.MAX_MESSAGES ?? 1000);

/** @type {Array<Record<string, unknown>>} newest last */
const messages = [];

const addresses = (field) =>
  (field ? (Array.isArray(field) ? field : [field]) : []).flatMap((a) => a.value.map((v) => ({ Name: v.name ?? '', Address: v.address ?? '' })));

/** Header name (lower case) -> every value it has, unfolded, in order. */
function headerMap(lines) {
  const out = {};
  for (const h of lines) (out[h.key] ??= []).push(h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n\s+/g, ' ').trim());
  return out;
}

function store(parsed, raw, envelope) {
  const text = parsed.text ?? '';
  const message = {
    ID: randomUUID(),
    MessageID: (parsed.messageId ?? '').replace(/^<|>$/g, ''),
    From: addresses(parsed.from)[0] ?? { Name: '', Address: envelope.mailFrom ? envelope.mailFrom.address : '' },
    To: addresses(parsed.to),
    Cc: addresses(parsed.cc),
    // Envelope recipients, which include Bcc: what the sender actually asked to deliver to.
    Recipients: envelope.rcptTo.map((r) => r.address),
    Subject: parsed.subject ?? '',
    Created: new Date().toISOString(),
    Size: raw.length,
    Snippet: text.replace(/\s+/g, ' ').trim().slice(0, 250),
    Text: text,
    HTML: typeof parsed.html === 'string' ? parsed.html : '',
    Headers: headerMap(parsed.headerLines),
  };
  messages.push(message);
  if (messages.length > MAX_MESSAGES) messages.splice(0, messages.length - MAX_MESSAGES);
  console.log(JSON.stringify({ msg: 'received', id: message.ID, from: message.From.Address, to: message.Recipients, subject: message.Subject }));
}

const summary = ({ Text, HTML, Headers, ...rest }) => rest;

const smtp = new SMTPServer({
  authOptional: true,
  // Herald (nodemailer) and Alertmanager both send plain SMTP inside the cluster; without a
  // certificate, offering STARTTLS would only make them try and fail.
  disabledCommands: ['STARTTLS'],
  // Any credentials are accepted, as Mailpit's MP_SMTP_AUTH_ACCEPT_ANY does.
  onAuth: (auth, session, callback) => callback(null, { user: auth.username ?? 'anonymous' }),
  allowInsecureAuth: true,
  size: 10 * 1024 * 1024,
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks);
      simpleParser(raw)
        .then((parsed) => {
          store(parsed, raw, session.envelope);
          callback();
        })
        .catch((err) => {
          console.error(JSON.stringify({ msg: 'unparseable message', error: String(err) }));
          callback(Object.assign(new Error('message could not be parsed'), { responseCode: 554 }));
        });
    });
  },
});
smtp.on('error', (err) => console.error(JSON.stringify({ msg: 'smtp error', error: String(err) })));

let listening = 0;
const json = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://sink');
  if (req.method === 'GET' && (url.pathname === '/readyz' || url.pathname === '/livez')) {
    return listening === 2 ? json(res, 200, { ok: true }) : json(res, 503, { ok: false });
  }
  if (url.pathname === '/api/v1/messages' || url.pathname === '/messages') {
    if (req.method === 'GET') {
      const list = messages.map(summary).reverse();
      return json(res, 200, { total: list.length, count: list.length, messages: list });
    }
    if (req.method === 'DELETE') {
      messages.length = 0;
      return json(res, 200, { deleted: true });
    }
  }
  const one = /^\/api\/v1\/message\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && one) {
    const m = messages.find((x) => x.ID === one[1]);
    return m ? json(res, 200, m) : json(res, 404, { error: `no message ${one[1]}` });
  }
  return json(res, 404, { error: `no route ${req.method} ${url.pathname}; see GET /api/v1/messages` });
});

smtp.listen(SMTP_PORT, () => {
  listening += 1;
  console.log(`smtp listening on :${SMTP_PORT}`);
});
http.listen(HTTP_PORT, () => {
  listening += 1;
  console.log(`http listening on :${HTTP_PORT}`);
});

process.on('SIGTERM', () => {
  http.close();
  smtp.close(() => process.exit(0));
});
