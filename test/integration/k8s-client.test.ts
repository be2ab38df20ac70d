/**
 * kubeApiFrom against a tiny HTTP server on 127.0.0.1 that plays the API
 * server for a few calls, through a kubeconfig file with a bearer token:
 * create/read/delete a pod, 404 as absent, 409 as AlreadyExists, a call that
 * never answers as a timeout, a watch stream parsed (and a 410 on it), and no
 * token in any error message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { V1Pod } from '@kubernetes/client-node';
import { kubeApiFrom } from '../../src/spawners/kubernetes/kube-client.js';
import { KubeApiError, type WatchEvent } from '../../src/spawners/kubernetes/kube-api.js';
import type { KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';

const TOKEN = 'test-bearer-token-7f3a9c';
const log = pino({ level: 'silent' });

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

describe('kubeApiFrom over HTTP', () => {
  const pods = new Map<string, V1Pod>();
  const seen: Seen[] = [];
  let server: Server;
  let dir: string;
  let config: KubernetesSpawnerConfig;

  before(async () => {
    server = createServer((req, res) => {
      void (async () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
        const podPath = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods(?:\/([a-z0-9-]+))?$/.exec(url.pathname);
        if (!podPath) return status(res, 404, 'NotFound', 'no such path');
        const [, ns, name] = podPath;
        if (name === 'hang') return; // never answers
        if (!name && url.searchParams.get('watch') === 'true') {
          if (url.searchParams.get('resourceVersion') === 'expired') return status(res, 410, 'Expired', 'too old resource version');
          if (url.searchParams.get('resourceVersion') === 'silent') return; // no answer at all
          res.writeHead(200, { 'content-type': 'application/json' });
          const line = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
          line('ADDED', { metadata: { namespace: ns, name: 'w1', resourceVersion: '11' }, status: { phase: 'Pending' } });
          line('MODIFIED', { metadata: { namespace: ns, name: 'w1', resourceVersion: '12' }, status: { phase: 'Running' } });
          line('BOOKMARK', { metadata: { resourceVersion: '13' } });
          if (url.searchParams.get('resourceVersion') === 'old') line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
          if (url.searchParams.get('resourceVersion') === 'open') return; // stays open until the client aborts
          res.end();
          return;
        }
        if (!name && req.method === 'GET') {
          return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [...pods.values()] });
        }
        if (!name && req.method === 'POST') {
          const pod = (await body(req)) as V1Pod;
          const key = `${ns}/${pod.metadata?.name}`;
          if (pods.has(key)) return status(res, 409, 'AlreadyExists', `pods "${pod.metadata?.name}" already exists`);
          const created = { ...pod, metadata: { ...pod.metadata, namespace: ns, resourceVersion: '1', uid: 'u-1' } };
          pods.set(key, created);
          return json(res, 201, created);
        }
        const key = `${ns}/${name}`;
        if (req.method === 'GET') return pods.has(key) ? json(res, 200, pods.get(key)) : status(res, 404, 'NotFound', `pods "${name}" not found`);
        if (req.method === 'DELETE') {
          if (!pods.has(key)) return status(res, 404, 'NotFound', `pods "${name}" not found`);
          const pod = pods.get(key);
          pods.delete(key);
          return json(res, 200, pod);
        }
        return status(res, 405, 'MethodNotAllowed', 'no');
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    dir = mkdtempSync(join(tmpdir(), 'ganymede-kube-'));
    const file = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: stand',
        '  cluster:',
        `    server: http://127.0.0.1:${port}`,
        '    insecure-skip-tls-verify: true', // client-node refuses plain HTTP otherwise
        'users:',
        '- name: hub',
        '  user:',
        `    token: ${TOKEN}`,
        'contexts:',
        '- name: here',
        '  context:',
        '    cluster: stand',
        '    user: hub',
        '    namespace: from-context',
        'current-context: here',
        '',
      ].join('\n'),
    );
    config = { kind: 'kubernetes', kube_config: file, namespace: '', request_timeout: 0.5, watch_resync_seconds: 300 } as unknown as KubernetesSpawnerConfig;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the hub namespace from the context (a file or KUBECONFIG), or from the namespace option', async () => {
    assert.equal((await kubeApiFrom(config, log)).hubNamespace, 'from-context');
    assert.equal((await kubeApiFrom({ ...config, namespace: 'jhub' }, log)).hubNamespace, 'jhub');
    await assert.rejects(kubeApiFrom({ ...config, kube_config: join(dir, 'missing.yaml') }, log), /kube_config/);
    // This machine is no pod: in-cluster credentials fail with a sentence naming the option.
    await assert.rejects(kubeApiFrom({ ...config, kube_config: 'in-cluster' }, log), /^Error: kube_config: /);
    const saved = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = config.kube_config;
    try {
      assert.equal((await kubeApiFrom({ ...config, kube_config: 'default' }, log)).hubNamespace, 'from-context', 'default: KUBECONFIG');
    } finally {
      if (saved === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = saved;
    }
  });

  it('creates, reads, lists and deletes a pod with the bearer token', async () => {
    const { api } = await kubeApiFrom(config, log);
    const created = await api.createPod('jhub', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'jupyter-a' }, spec: { containers: [{ name: 'notebook', image: 'x' }] } });
    assert.equal(created.metadata?.uid, 'u-1');
    assert.equal((await api.readPod('jhub', 'jupyter-a'))?.metadata?.name, 'jupyter-a');
    const list = await api.listPods('jhub', 'component=singleuser-server');
    assert.equal(list.resourceVersion, '10');
    assert.deepEqual(list.items.map((p) => p.metadata?.name), ['jupyter-a']);
    assert.ok(seen.some((s) => s.url.includes('labelSelector=component%3Dsingleuser-server')));
    await api.deletePod('jhub', 'jupyter-a', 5);
    assert.ok(seen.some((s) => s.method === 'DELETE' && s.url.includes('gracePeriodSeconds=5')));
    assert.ok(seen.every((s) => s.auth === `Bearer ${TOKEN}`));
  });

  it('a 404 on read is undefined and on delete is success', async () => {
    const { api } = await kubeApiFrom(config, log);
    assert.equal(await api.readPod('jhub', 'nobody'), undefined);
    await api.deletePod('jhub', 'nobody');
  });

  it('a 409 is a KubeApiError with reason AlreadyExists and a plain message without the token', async () => {
    const { api } = await kubeApiFrom(config, log);
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'twice' }, spec: { containers: [{ name: 'notebook', image: 'x' }] } };
    await api.createPod('jhub', pod);
    const err = await api.createPod('jhub', pod).then(
      () => assert.fail('expected a conflict'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 409);
    assert.equal(err.reason, 'AlreadyExists');
    assert.match(err.message, /create pod jhub\/twice failed with HTTP 409 \(AlreadyExists\): pods "twice" already exists/);
    assert.ok(!err.message.includes(TOKEN));
    await api.deletePod('jhub', 'twice');
  });

  it('a wrong token is a 401 KubeApiError without the token in it', async () => {
    const file = join(dir, 'wrong.yaml');
    writeFileSync(file, (await import('node:fs')).readFileSync(config.kube_config as string, 'utf8').replace(TOKEN, 'wrong-token-123'));
    const { api } = await kubeApiFrom({ ...config, kube_config: file }, log);
    const err = await api.readPod('jhub', 'x').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 401);
    assert.ok(!err.message.includes('wrong-token-123'));
  });

  it('a call that does not answer fails after request_timeout with status 0', async () => {
    const { api } = await kubeApiFrom(config, log);
    const t0 = Date.now();
    const err = await api.readPod('jhub', 'hang').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 0);
    assert.match(err.message, /did not answer within 0\.5 s/);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('parses the watch stream, with the version, selector, bookmarks and timeout asked for', async () => {
    const { api } = await kubeApiFrom(config, log);
    const events: WatchEvent<V1Pod>[] = [];
    const handle = await api.watchPods('jhub', 'component=singleuser-server', '10', (e) => events.push(e));
    await handle.done;
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata?.resourceVersion]), [['ADDED', '11'], ['MODIFIED', '12'], ['BOOKMARK', '13']]);
    const url = new URL(seen.filter((s) => s.url.includes('watch=true')).at(-1)!.url, 'http://x');
    assert.equal(url.pathname, '/api/v1/namespaces/jhub/pods');
    assert.equal(url.searchParams.get('resourceVersion'), '10');
    assert.equal(url.searchParams.get('labelSelector'), 'component=singleuser-server');
    assert.equal(url.searchParams.get('allowWatchBookmarks'), 'true');
    assert.equal(url.searchParams.get('timeoutSeconds'), '300');
  });

  it('passes a 410 ERROR event on, and abort ends an open watch', async () => {
    const { api } = await kubeApiFrom(config, log);
    const events: WatchEvent<unknown>[] = [];
    const gone = await api.watchPods('jhub', 'component=singleuser-server', 'old', (e) => events.push(e));
    await gone.done;
    assert.deepEqual(events.at(-1)?.object, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });

    const open = await api.watchPods('jhub', 'component=singleuser-server', 'open', () => undefined);
    open.abort();
    await open.done;
  });

  it('a watch refused with 410 settles done with a KubeApiError 410, and a watch that never answers times out', async () => {
    const { api } = await kubeApiFrom(config, log);
    const refused = await api.watchPods('jhub', 'component=singleuser-server', 'expired', () => undefined);
    const err = await refused.done.then(
      () => assert.fail('expected 410'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 410);
    assert.equal(err.reason, 'Expired');

    const t0 = Date.now();
    const silent = await api.watchPods('jhub', 'component=singleuser-server', 'silent', () => undefined).catch((e: unknown) => e);
    assert.ok(silent instanceof KubeApiError);
    assert.equal(silent.status, 0);
    assert.ok(Date.now() - t0 < 2000);
  });
});
