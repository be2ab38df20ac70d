/**
 * A Kubernetes API stand-in for the tests (no apiserver can run here): an
 * HTTP server on 127.0.0.1 serving the core/v1 calls the Kubernetes spawner
 * makes, answering as the apiserver does (see test-targets.md §2).
 *
 * - Paths: `/api/v1/namespaces[/{name}]`, `/api/v1/namespaces/{ns}/{pods|
 *   persistentvolumeclaims|secrets|events}[/{name}]`, `/api/v1/{resource}`
 *   (all namespaces). GET (list, `?watch=true` watch, one), POST, DELETE.
 * - Every POST body is checked against the Kubernetes schemas with unknown
 *   fields rejected (`validateK8sObject`) plus the apiserver's name and label
 *   rules: refused → 422 Invalid naming the field, nothing stored.
 * - Watches: newline-delimited JSON events from `resourceVersion`,
 *   `timeoutSeconds` honoured; a too-old resourceVersion (after
 *   `expireWatches()`) → an ERROR event with a 410 Expired Status.
 * - `Authorization: Bearer <token>` required (401 otherwise).
 * - Pods are driven like a cluster would (k8s-standin-pods.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateK8sObject, type K8sKind } from './k8s-schema.js';
import { PodDriver, type PodScenario } from './k8s-standin-pods.js';
import { K8sStatusError, badRequest, fieldSelector, invalid, labelSelector, metadataProblems, notFound, statusObject } from './k8s-standin-status.js';
import { K8sStore, type K8sObject } from './k8s-standin-store.js';

export type { PodScenario } from './k8s-standin-pods.js';
export type { K8sObject } from './k8s-standin-store.js';

/** What a request was, for the tests and benchmarks. */
export type RequestKind = 'list' | 'watch' | 'get' | 'create' | 'delete' | 'other';
/** One request the stand-in answered. */
export interface RecordedRequest { method: string; path: string; status: number; kind: RequestKind }

/** Options of {@link startK8sStandin}. */
export interface K8sStandinOptions {
  /** Namespaces that exist from the start (default: `default`). */
  namespaces?: string[];
  /** Milliseconds between two steps of a pod's life (default 20). */
  stepMs?: number;
  /**
   * HTTPS with a self-signed certificate for 127.0.0.1 whose PEM goes into the
   * kubeconfig as `certificate-authority-data`, as a real apiserver (default
   * true). false: plain HTTP, and the kubeconfig says `insecure-skip-tls-verify`
   * (client-node 1.4 refuses http:// without it).
   */
  tls?: boolean;
  /** false: running pods get a podIP but no server process (benchmarks with 1,000 pods). Default true. */
  realServers?: boolean;
}

/** A running stand-in. */
export interface K8sStandin {
  /** `https://127.0.0.1:<port>` (`http://` with `tls: false`). */
  readonly url: string;
  /** The PEM certificate the stand-in serves (its own CA), when `tls`. */
  readonly caPem: string | undefined;
  /** A kubeconfig file (in a temp dir) pointing at the stand-in with the token; context namespace `default`. */
  readonly kubeconfigPath: string;
  /** The bearer token every request must carry. */
  readonly token: string;
  /** Every request answered, in order. */
  readonly requests: RecordedRequest[];
  /** Requests per kind (list, watch, get, create, delete, other). */
  readonly counts: Record<RequestKind, number>;
  /** The current resourceVersion. */
  readonly resourceVersion: string;
  /** The stored objects of a resource (`pods`, `persistentvolumeclaims`, `secrets`, `events`, `namespaces`), in `namespace` or all. */
  list(resource: string, namespace?: string): K8sObject[];
  /** One stored object, or undefined. */
  get(resource: string, namespace: string | undefined, name: string): K8sObject | undefined;
  /** Pods only: the environment its server process was started with (secret values resolved). */
  podEnv(namespace: string, name: string): Record<string, string> | undefined;
  /** The number of pod server processes alive. */
  readonly runningServers: number;
  /** What pods named `pod` (or matching) do; set before or after creation (a running pod turns `oom`/`crash-loop` at once). */
  setScenario(pod: string | ((namespace: string, name: string) => boolean), scenario: PodScenario): void;
  /** Deletes a pod as `kubectl delete` would (Terminating, then DELETED). */
  deleteOutside(namespace: string, name: string): Promise<void>;
  /** Every open watch gets ERROR 410 and ends; watching from an older resourceVersion gets 410 (clients must relist). */
  expireWatches(): void;
  /** While down, every connection is dropped at once (the API unreachable) and open watches end. */
  setDown(down: boolean): void;
  /** Zeroes `requests` and `counts`. */
  resetCounts(): void;
  /** Stops the server, kills every pod process, removes the kubeconfig. */
  close(): Promise<void>;
}

const RESOURCES: Record<string, { kind: K8sKind; namespaced: boolean }> = {
  pods: { kind: 'Pod', namespaced: true },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', namespaced: true },
  secrets: { kind: 'Secret', namespaced: true },
  events: { kind: 'Event', namespaced: true },
  namespaces: { kind: 'Namespace', namespaced: false },
};

interface Target { resource: string; namespace: string | undefined; name: string | undefined }

function parsePath(pathname: string): Target | undefined {
  const p = pathname.split('/').slice(1).map(decodeURIComponent);
  if (p[0] !== 'api' || p[1] !== 'v1') return undefined;
  const rest = p.slice(2);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    if (rest.length > 4 || !RESOURCES[rest[2]!] || rest[2] === 'namespaces') return undefined;
    return { resource: rest[2]!, namespace: rest[1], name: rest[3] };
  }
  if (rest.length === 1 && RESOURCES[rest[0]!]) return { resource: rest[0]!, namespace: undefined, name: undefined };
  if (rest.length === 2 && rest[0] === 'namespaces') return { resource: 'namespaces', namespace: undefined, name: rest[1] };
  return undefined;
}

/** Starts a stand-in on 127.0.0.1 (an ephemeral port). */
export async function startK8sStandin(opts: K8sStandinOptions = {}): Promise<K8sStandin> {
  const store = new K8sStore();
  const pods = new PodDriver(store, opts.stepMs ?? 20, opts.realServers ?? true);
  const token = randomBytes(24).toString('base64url');
  const requests: RecordedRequest[] = [];
  const counts: Record<RequestKind, number> = { list: 0, watch: 0, get: 0, create: 0, delete: 0, other: 0 };
  const sockets = new Set<Socket>();
  let down = false;
  for (const ns of opts.namespaces ?? ['default'])
    store.create('namespaces', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });

  const send = (res: ServerResponse, req: RecordedRequest, status: number, body: unknown): void => {
    req.status = status;
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      rec.kind = 'other';
      return send(res, rec, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const t = parsePath(url.pathname);
    if (!t) return send(res, rec, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
    const { kind } = RESOURCES[t.resource]!;
    const q = url.searchParams;
    if (req.method === 'GET' && t.name === undefined) {
      const match = combine(labelSelector(q.get('labelSelector')), fieldSelector(q.get('fieldSelector')));
      if (q.get('watch') === 'true' || q.get('watch') === '1') {
        rec.kind = 'watch';
        counts.watch++;
        return watch(req, res, rec, t, match, q);
      }
      rec.kind = 'list';
      counts.list++;
      const items = store.list(t.resource, t.namespace, match);
      return send(res, rec, 200, { kind: `${kind}List`, apiVersion: 'v1', metadata: { resourceVersion: store.resourceVersion }, items });
    }
    if (req.method === 'GET') {
      rec.kind = 'get';
      counts.get++;
      const o = store.get(t.resource, t.namespace, t.name!);
      if (!o) throw notFound(t.resource, t.name!);
      return send(res, rec, 200, o);
    }
    if (req.method === 'POST' && t.name === undefined && t.namespace !== undefined === RESOURCES[t.resource]!.namespaced) {
      rec.kind = 'create';
      counts.create++;
      const body = await readJson(req);
      return send(res, rec, 201, create(t, body));
    }
    if (req.method === 'DELETE' && t.name !== undefined) {
      rec.kind = 'delete';
      counts.delete++;
      if (t.resource === 'pods') {
        const grace = Number(q.get('gracePeriodSeconds') ?? 30);
        const marked = await pods.deletePod(t.namespace!, t.name, grace);
        if (!marked) throw notFound('pods', t.name);
        return send(res, rec, 200, marked);
      }
      const gone = store.delete(t.resource, t.namespace, t.name);
      return send(res, rec, 200, gone);
    }
    rec.kind = 'other';
    counts.other++;
    return send(res, rec, 405, statusObject(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
  };

  const create = (t: Target, body: unknown): K8sObject => {
    const { kind } = RESOURCES[t.resource]!;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body is not a JSON object');
    const obj = body as K8sObject;
    if (obj.kind !== undefined && obj.kind !== kind) throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind})`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== 'v1') throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (v1)`);
    const full: K8sObject = { ...obj, apiVersion: 'v1', kind, metadata: (obj.metadata ?? {}) as Record<string, unknown> };
    const meta = full.metadata as { name?: string; namespace?: string; labels?: Record<string, string> };
    if (t.namespace && meta.namespace !== undefined && meta.namespace !== t.namespace)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const problems = [...validateK8sObject(kind, full), ...metadataProblems(meta, t.resource === 'namespaces')];
    if (t.resource === 'secrets') problems.push(...secretProblems(full));
    if (problems.length) throw invalid(kind, String(meta.name ?? ''), problems);
    if (t.namespace && !store.get('namespaces', undefined, t.namespace)) throw notFound('namespaces', t.namespace);
    if (t.resource === 'secrets' && full.stringData) {
      const data = { ...(full.data as Record<string, string> | undefined) };
      for (const [k, v] of Object.entries(full.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
      full.data = data;
      delete full.stringData;
    }
    if (t.resource === 'pods') {
      full.spec = { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', serviceAccountName: 'default',
        terminationGracePeriodSeconds: 30, securityContext: {}, ...(full.spec as object) };
      full.status = { phase: 'Pending', qosClass: qosClass(full) };
    }
    if (t.resource === 'secrets') full.type ??= 'Opaque';
    if (t.resource === 'persistentvolumeclaims') full.spec = { volumeMode: 'Filesystem', ...(full.spec as object) };
    if (t.resource === 'persistentvolumeclaims') full.status = { phase: 'Bound', accessModes: (full.spec as { accessModes?: string[] } | undefined)?.accessModes, capacity: (full.spec as { resources?: { requests?: unknown } } | undefined)?.resources?.requests };
    if (t.resource === 'namespaces') full.status = { phase: 'Active' };
    const stored = store.create(t.resource, t.namespace, full);
    if (t.resource === 'pods') pods.started(t.namespace!, stored);
    return stored;
  };

  const watch = (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, t: Target, match: (o: Record<string, unknown>) => boolean, q: URLSearchParams): void => {
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    // eslint-disable-next-line prefer-const -- `end` may run inside store.watch (410), before the assignment
    let stop: (() => void) | undefined;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      stop?.();
      res.end();
    };
    stop = store.watch(t.resource, t.namespace, match, q.get('resourceVersion'), (e) => {
      if (!ended) res.write(`${JSON.stringify(e)}\n`);
    }, end);
    const seconds = Number(q.get('timeoutSeconds') ?? 1800);
    if (ended) stop();
    else timer = setTimeout(end, Math.max(0, seconds) * 1000);
    req.socket.once('close', end);
  };

  const dir = mkdtempSync(join(tmpdir(), 'k8s-standin-'));
  const caPem = opts.tls === false ? undefined : selfSigned(dir);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', status: 0, kind: 'other' };
    requests.push(rec);
    if (down) {
      rec.status = 0;
      req.socket.destroy();
      return;
    }
    handle(req, res, rec).catch((err: unknown) => {
      if (err instanceof K8sStatusError) return send(res, rec, err.code, err.toStatus());
      send(res, rec, 500, statusObject(500, 'InternalError', `stand-in: ${(err as Error).message}`));
    });
  };
  const server = caPem
    ? createHttpsServer({ cert: caPem, key: readFileSync(join(dir, 'key.pem')) }, onRequest)
    : createHttpServer(onRequest);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `${caPem ? 'https' : 'http'}://127.0.0.1:${(server.address() as { port: number }).port}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'standin', preferences: {},
    clusters: [{ name: 'standin', cluster: { server: url, ...(caPem ? { 'certificate-authority-data': Buffer.from(caPem).toString('base64') } : { 'insecure-skip-tls-verify': true }) } }],
    users: [{ name: 'standin', user: { token } }],
    contexts: [{ name: 'standin', context: { cluster: 'standin', user: 'standin', namespace: 'default' } }],
  }), { mode: 0o600 });

  return {
    url, caPem, kubeconfigPath, token, requests, counts,
    get resourceVersion() { return store.resourceVersion; },
    list: (resource, namespace) => store.list(resource, namespace),
    get: (resource, namespace, name) => store.get(resource, namespace, name),
    podEnv: (namespace, name) => pods.envOf(namespace, name),
    get runningServers() { return pods.running; },
    setScenario: (pod, scenario) => pods.setScenario(pod, scenario),
    deleteOutside: async (namespace, name) => {
      if (!(await pods.deletePod(namespace, name, 30))) throw new Error(`no pod ${namespace}/${name}`);
    },
    expireWatches: () => store.expireWatches(),
    setDown: (d) => {
      down = d;
      if (d) {
        store.endWatches();
        for (const s of sockets) s.destroy();
      }
    },
    resetCounts: () => {
      requests.length = 0;
      for (const k of Object.keys(counts) as RequestKind[]) counts[k] = 0;
    },
    close: async () => {
      store.endWatches();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await pods.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A self-signed certificate for 127.0.0.1 (key.pem in `dir`); returns the certificate PEM. */
function selfSigned(dir: string): string {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=kube-apiserver-standin',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE', '-days', '2',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 10_000 });
  return readFileSync(join(dir, 'cert.pem'), 'utf8');
}

/** The pod's QoS class as the apiserver computes it (roughly: limits = requests everywhere → Guaranteed). */
function qosClass(pod: K8sObject): string {
  const cs = ((pod.spec as { containers?: { resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> } }[] } | undefined)?.containers) ?? [];
  if (cs.every((c) => !c.resources?.limits && !c.resources?.requests)) return 'BestEffort';
  const guaranteed = cs.every((c) => c.resources?.limits?.cpu !== undefined && c.resources.limits.memory !== undefined &&
    Object.entries(c.resources.requests ?? {}).every(([k, v]) => String(c.resources?.limits?.[k]) === String(v)));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function combine(a: (o: Record<string, unknown>) => boolean, b: (o: Record<string, unknown>) => boolean): (o: Record<string, unknown>) => boolean {
  return (o) => a(o) && b(o);
}

function secretProblems(s: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries((s.data as Record<string, unknown> | undefined) ?? {}))
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) out.push(`data[${k}]: Invalid value: not base64`);
  return out;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 3 * 1024 * 1024) throw new K8sStatusError(413, 'RequestEntityTooLarge', 'the request body is too large');
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}
