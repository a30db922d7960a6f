import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A small JSON client for the Kubernetes REST API. Authentication, TLS and proxies come from
 * client-node's KubeConfig (`applyToHTTPSOptions`, which also refreshes in-cluster and exec
 * tokens); everything else is plain HTTP. Why not client-node's generated APIs: they send PATCH as
 * JSON-Patch unless told otherwise, round-trip bodies through model classes (renaming
 * `x-kubernetes-*` and `default`, turning timestamps into Dates, which breaks comparing desired and
 * observed objects), and have no request timeout; its Watch has none either.
 */

/** An error answer from the API server, or a request that never got one. */
export class KubeApiError extends Error {
  readonly code = 'HERALD_KUBE_API';
  constructor(
    message: string,
    /** HTTP status; 0 when the request failed before an answer (network, timeout). */
    readonly status: number,
    /** The Status `reason` (NotFound, Conflict, Invalid, Forbidden, Expired, ...) when the server gave one. */
    readonly reason?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
/** 410 Gone: a watch or list asked for a resourceVersion etcd has compacted away. */
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');

/** Content types for PATCH; the API server needs the right one to pick the patch semantics. */
export const PATCH = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  /** Server-side apply; JSON is valid YAML, so JSON bodies are fine. */
  apply: 'application/apply-patch+yaml',
} as const;

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Accept header; e.g. `application/json;as=Table;v=v1;g=meta.k8s.io` for server-side printing. */
  accept?: string;
  /** Whole-request deadline; defaults to the client's. */
  timeoutMs?: number;
}

/** One event of a watch stream. */
export interface WatchEvent<T = unknown> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Callbacks and cancellation of one watch stream. */
export interface WatchCallbacks<T> {
  onEvent: (ev: WatchEvent<T>) => void;
  /** Called once when an open stream ends: no argument when the server closed it normally. */
  onClose: (err?: unknown) => void;
  /** Aborting closes the stream (before or after it opened) without calling onClose. */
  signal: AbortSignal;
}

export class KubeRest {
  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: { timeoutMs?: number; userAgent?: string } = {},
  ) {}

  /** The API server URL of the current context. */
  get server(): string {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  private async prepare(method: string, path: string, query: RequestOpts['query'], headers: Record<string, string>) {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const options: RequestOptions & { headers: Record<string, string> } = {
      method,
      headers: { accept: 'application/json', 'user-agent': this.opts.userAgent ?? 'herald-controller', ...headers },
    };
    await this.kc.applyToHTTPSOptions(options as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return { url, options, send };
  }

  /**
   * Sends one request and parses the JSON answer.
   * @throws KubeApiError with the server's status and reason for any non-2xx answer, or status 0
   *   when the request failed or exceeded its deadline.
   */
  async request<T = unknown>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = opts.accept ? { accept: opts.accept } : {};
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const { url, options, send } = await this.prepare(method, path, opts.query, headers);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, options, (res) => {
        readBody(res).then((text) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (err) {
              reject(new KubeApiError(`${method} ${path}: unparseable response`, status, undefined, { cause: err }));
            }
          } else {
            reject(statusError(method, path, status, text));
          }
        }, (err: Error) => reject(new KubeApiError(`${method} ${path}: ${err.message}`, 0, undefined, { cause: err })));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new KubeApiError(`${method} ${path}: ${err.message}`, 0, undefined, { cause: err })));
      req.end(payload);
    });
  }

  /**
   * Opens a watch (`?watch=1`) and resolves once the server has accepted it (status 200); events
   * then stream to `onEvent` until `onClose`. A watch the server refuses (410 Gone included) or that
   * cannot connect rejects with a KubeApiError instead. There is deliberately no timeout here: a
   * quiet watch is normal, so stalls are the caller's watchdog's job.
   */
  async watch<T>(path: string, query: Record<string, string | number | boolean | undefined>, cb: WatchCallbacks<T>): Promise<void> {
    const { url, options, send } = await this.prepare('GET', path, { ...query, watch: 1 }, {});
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      let closed = false;
      const fail = (err: unknown) => {
        if (closed) return;
        closed = true;
        if (opened) cb.onClose(err);
        else reject(err);
      };
      const req = send(url, { ...options, signal: cb.signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          readBody(res).then((text) => fail(statusError('WATCH', path, status, text)), fail);
          return;
        }
        opened = true;
        resolve();
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while (!closed && (nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            let ev: WatchEvent<T>;
            try {
              ev = JSON.parse(line) as WatchEvent<T>;
            } catch (err) {
              fail(new KubeApiError(`WATCH ${path}: unparseable event`, status, undefined, { cause: err }));
              req.destroy();
              return;
            }
            cb.onEvent(ev);
          }
        });
        const ended = () => {
          if (closed) return;
          closed = true;
          if (!cb.signal.aborted) cb.onClose();
        };
        res.on('end', ended);
        res.on('close', ended);
        res.on('error', (err) => (cb.signal.aborted ? ended() : fail(new KubeApiError(`WATCH ${path}: ${err.message}`, 0, undefined, { cause: err }))));
      });
      req.on('error', (err) => {
        if (cb.signal.aborted) {
          closed = true;
          if (!opened) reject(new KubeApiError(`WATCH ${path}: aborted`, 0));
          return;
        }
        fail(new KubeApiError(`WATCH ${path}: ${err.message}`, 0, undefined, { cause: err }));
      });
      req.end();
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function statusError(method: string, path: string, status: number, text: string): KubeApiError {
  let message = text.slice(0, 2000);
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    if (s.message) message = s.message;
    reason = s.reason;
  } catch {
    // Not a Status object (a proxy's HTML error page, say): keep the raw text.
  }
  return new KubeApiError(`${method} ${path}: ${status} ${message}`, status, reason);
}
