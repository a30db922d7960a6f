/**
 * A throwaway Kubernetes control plane for integration tests, in the spirit of
 * controller-runtime's envtest: real etcd + kube-apiserver (+ optionally
 * kube-controller-manager for garbage collection and namespace deletion), no kubelet,
 * no nodes. The binaries come from `bash test/tools/build.sh`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './net.js';

const execFileP = promisify(execFile);

export interface KubeEnvOptions {
  /** Defaults to $HERALD_TOOLS_DIR, else <repo>/.tools — the same rule as test/tools/build.sh. */
  toolsDir?: string;
  /** Also run kube-controller-manager (garbagecollector + namespace controllers only). */
  withControllerManager?: boolean;
}

export interface KubeEnv {
  /** A self-contained kubeconfig (CA and token inlined) for an admin in system:masters. */
  kubeconfigPath: string;
  /** e.g. https://127.0.0.1:34567 */
  server: string;
  /** Bearer token of the admin user, for raw HTTP calls. */
  token: string;
  /** PEM of the CA that signed the apiserver's serving cert. */
  caCert: string;
  /** Temp dir holding certs, etcd data and the *.log files of each process. */
  dir: string;
  /** Kills every process and removes `dir`. Safe to call more than once. */
  stop(): Promise<void>;
  /** Stops only kube-apiserver and starts it again on the same port, waiting for /readyz. */
  restartApiServer(): Promise<void>;
}

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export function kubeToolsDir(toolsDir?: string): string {
  return resolve(toolsDir ?? process.env.HERALD_TOOLS_DIR ?? join(repoRoot, '.tools'));
}

/** Path of a binary built by test/tools/build.sh (also works for 'helm'); throws if it is missing. */
export function kubeToolPath(name: string, toolsDir?: string): string {
  const p = join(kubeToolsDir(toolsDir), 'bin', name);
  if (!existsSync(p)) {
    throw new Error(`${name} not found at ${p}; build the test binaries first with: bash test/tools/build.sh`);
  }
  return p;
}

// Children outlive a crashed or force-exited test worker unless we kill them here;
// 'exit' handlers must be synchronous, which kill() and rmSync() are.
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  });
}
function track(p: ChildProcess): void {
  installExitHook();
  live.add(p);
  p.once('exit', () => live.delete(p));
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
}

function launch(name: string, bin: string, args: string[], log: string): Proc {
  // Append so a restarted process keeps its predecessor's log for post-mortems.
  const fd = openSync(log, 'a');
  try {
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    track(child);
    // Without a listener a failed spawn (ENOENT, EACCES) would crash the test worker.
    child.on('error', () => {});
    return { name, child, log };
  } finally {
    closeSync(fd);
  }
}

async function halt(p: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (!p) return;
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function logTail(file: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it succeeds, failing fast (with the log tail) if the process
 * dies first: a crashed apiserver would otherwise look like a slow one until the deadline.
 */
async function awaitReady(p: Proc, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(
        `${p.name} exited during startup (code ${p.child.exitCode}, signal ${p.child.signalCode})\n` +
          `--- last lines of ${basename(p.log)} ---\n${await logTail(p.log)}`,
      );
    }
    try {
      if (await probe()) return;
      last = 'not ready';
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${p.name} to become ready (${last})\n` +
          `--- last lines of ${basename(p.log)} ---\n${await logTail(p.log)}`,
      );
    }
    await delay(100);
  }
}

function httpsStatus(url: string, ca: string | undefined, token?: string): Promise<number> {
  return new Promise((resolveP, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        ca,
        rejectUnauthorized: ca !== undefined,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 5_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolveP(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolveP, reject) => {
    const req = httpRequest(url, { timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolveP(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

async function makeCerts(dir: string): Promise<void> {
  // EC keys for TLS because they generate in milliseconds; the service-account key is
  // RSA because that is what real clusters (and most token verifiers) use.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=herald-test-ca']);
  await openssl(dir, [
    'req', '-x509', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.crt', '-days', '2',
    '-CA', 'ca.crt', '-CAkey', 'ca.key', '-subj', '/CN=kube-apiserver',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth',
  ]);
  await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function kubeconfig(server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: herald-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: herald-test',
    '  context:',
    '    cluster: herald-test',
    '    user: admin',
    '    namespace: default',
    'current-context: herald-test',
    '',
  ].join('\n');
}

export async function startKubeApiServer(opts: KubeEnvOptions = {}): Promise<KubeEnv> {
  const toolsDir = kubeToolsDir(opts.toolsDir);
  const wanted = opts.withControllerManager ? BINARIES : BINARIES.filter((b) => b !== 'kube-controller-manager');
  const bin = Object.fromEntries(wanted.map((b) => [b, kubeToolPath(b, toolsDir)])) as Record<string, string>;

  const dir = await mkdtemp(join(tmpdir(), 'herald-kube-'));
  installExitHook();
  liveDirs.add(dir);
  let etcd: Proc | undefined;
  let apiserver: Proc | undefined;
  let kcm: Proc | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Dependents first, so nothing spends its shutdown retrying a vanished backend.
    await halt(kcm);
    await halt(apiserver);
    await halt(etcd);
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  try {
    await makeCerts(dir);
    const token = randomBytes(24).toString('hex');
    // A static token keeps clients simple (no client certs to wire into client-node);
    // system:masters bypasses RBAC. Format: token,user,uid,"group1,group2".
    await writeFile(join(dir, 'tokens.csv'), `${token},herald-admin,herald-admin,"system:masters"\n`, { mode: 0o600 });
    const caCert = await readFile(join(dir, 'ca.crt'), 'utf8');

    const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    etcd = launch('etcd', bin.etcd!, [
      '--name=herald', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=herald=${peerUrl}`,
      // Test data is disposable; fsync dominates etcd latency on shared CI disks.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], join(dir, 'etcd.log'));
    await awaitReady(etcd, async () => (await httpStatus(`${etcdUrl}/health`)) === 200, 30_000);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`,
      // Otherwise it advertises (and writes into the default/kubernetes Endpoints) a host IP.
      '--advertise-address=127.0.0.1',
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // No token controller runs here, so pods referencing the default SA would be rejected.
      '--disable-admission-plugins=ServiceAccount',
      // With the default (0) a SIGTERM'd apiserver hung on open watches (the controller
      // manager's, or the controller under test's) until halt() SIGKILLed it after 10 s.
      '--shutdown-watch-termination-grace-period=2s',
    ];
    const startApiServer = async () => {
      apiserver = launch('kube-apiserver', bin['kube-apiserver']!, apiArgs, join(dir, 'kube-apiserver.log'));
      // /readyz only turns 200 after RBAC bootstrap roles and the built-in namespaces exist.
      await awaitReady(apiserver, async () => (await httpsStatus(`${server}/readyz`, caCert, token)) === 200, 90_000);
    };
    await startApiServer();

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, caCert, token), { mode: 0o600 });

    if (opts.withControllerManager) {
      const kcmPort = await freePort();
      kcm = launch('kube-controller-manager', bin['kube-controller-manager']!, [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--controllers=garbagecollector,namespace',
        '--leader-elect=false',
        // Run every controller as the admin from the kubeconfig; there is no
        // serviceaccount-token controller to mint per-controller credentials.
        '--use-service-account-credentials=false',
        '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
      ], join(dir, 'kube-controller-manager.log'));
      // /healthz is in kcm's always-allowed paths; its cert is self-signed.
      await awaitReady(kcm, async () => (await httpsStatus(`https://127.0.0.1:${kcmPort}/healthz`, undefined)) === 200, 60_000);
    }

    return {
      kubeconfigPath,
      server,
      token,
      caCert,
      dir,
      stop,
      async restartApiServer() {
        if (stopped) throw new Error('restartApiServer() after stop()');
        await halt(apiserver);
        await startApiServer();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The combined stdout/stderr of one process so far; only readable before stop(). */
export async function readKubeLog(env: KubeEnv, name: (typeof BINARIES)[number]): Promise<string> {
  return readFile(join(env.dir, `${name}.log`), 'utf8').catch(() => '');
}
