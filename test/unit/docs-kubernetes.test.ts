/**
 * docs/kubernetes.md stays true: its example configurations load and pass
 * checkProfileList, build the objects the page describes (valid against the
 * Kubernetes schema), and its RBAC Role and ClusterRole grant exactly what the
 * spawner's code calls through KubeApi (each method mapped to a resource and
 * a verb here; a new method or a new call fails this test until the page and
 * the map say what it needs).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';
import { serverObjectNames } from '../../src/spawners/kubernetes/kube-names.js';
import { podManifest, pvcManifest, secretManifest, type ManifestInput } from '../../src/spawners/kubernetes/manifests.js';
import { applyProfile, availableProfiles, checkProfileList } from '../../src/spawners/kubernetes/profiles.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';

const DOC = readFileSync(new URL('../../docs/kubernetes.md', import.meta.url), 'utf8');
const SRC_DIR = new URL('../../src/spawners/kubernetes/', import.meta.url);

/** The fenced blocks of the page whose info string is `lang`. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of DOC.split('\n')) {
    const fence = /^ *```(\S*)$/.exec(line);
    if (!open && fence) open = { lang: fence[1]!, lines: [] };
    else if (open && fence && fence[1] === '') {
      if (open.lang === lang) out.push(open.lines.map((l) => `${l}\n`).join(''));
      open = undefined;
    } else open?.lines.push(line);
  }
  return out;
}

const configBlocks = blocks('yaml').filter((b) => /^\s+kind: kubernetes$/m.test(b));

/** Every RBAC object of the page's YAML blocks. */
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}
const rbac: RbacObject[] = blocks('yaml')
  .filter((b) => /^kind: (Role|ClusterRole|ServiceAccount)/m.test(b))
  .flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as RbacObject));

/**
 * What each KubeApi method needs (core API group). `only`: the option without
 * which the spawner never makes the call (its permission may then be left out).
 */
const NEEDS: Record<string, { resource: string; verb: string; only?: 'storage_pvc_ensure' | 'enable_user_namespaces' | 'delete_pvc' }> = {
  createPod: { resource: 'pods', verb: 'create' },
  deletePod: { resource: 'pods', verb: 'delete' },
  readPod: { resource: 'pods', verb: 'get' },
  listPods: { resource: 'pods', verb: 'list' },
  watchPods: { resource: 'pods', verb: 'watch' },
  listEvents: { resource: 'events', verb: 'list' },
  watchEvents: { resource: 'events', verb: 'watch' },
  createPvc: { resource: 'persistentvolumeclaims', verb: 'create', only: 'storage_pvc_ensure' },
  readPvc: { resource: 'persistentvolumeclaims', verb: 'get', only: 'storage_pvc_ensure' },
  deletePvc: { resource: 'persistentvolumeclaims', verb: 'delete', only: 'delete_pvc' },
  listPvcs: { resource: 'persistentvolumeclaims', verb: 'list', only: 'delete_pvc' },
  createSecret: { resource: 'secrets', verb: 'create' },
  deleteSecret: { resource: 'secrets', verb: 'delete' },
  readNamespace: { resource: 'namespaces', verb: 'get', only: 'enable_user_namespaces' },
  createNamespace: { resource: 'namespaces', verb: 'create', only: 'enable_user_namespaces' },
};

/** The methods of the KubeApi interface, read from kube-api.ts. */
function kubeApiMethods(): string[] {
  const text = readFileSync(new URL('kube-api.ts', SRC_DIR), 'utf8');
  const body = /export interface KubeApi \{([\s\S]*?)\n\}/.exec(text)?.[1];
  assert.ok(body, 'kube-api.ts declares interface KubeApi');
  return [...body.matchAll(/^\s+(\w+)\(/gm)].map((m) => m[1]!);
}

/** The KubeApi methods the back-end's code calls (`api.<method>(`), outside the client that implements them. */
function calledMethods(methods: string[]): Set<string> {
  const called = new Set<string>();
  for (const f of readdirSync(SRC_DIR)) {
    if (!f.endsWith('.ts') || f === 'kube-client.ts' || f === 'kube-api.ts') continue;
    const text = readFileSync(new URL(f, SRC_DIR), 'utf8');
    for (const m of text.matchAll(/\bapi\.(\w+)\(/g)) if (methods.includes(m[1]!)) called.add(m[1]!);
  }
  return called;
}

/** The (resource, verb) pairs a role grants, as `resource/verb`; only the core group is expected. */
function grants(role: RbacObject): Set<string> {
  const out = new Set<string>();
  for (const r of role.rules ?? []) {
    assert.deepEqual(r.apiGroups, [''], `${role.kind} ${role.metadata.name}: only the core API group`);
    for (const res of r.resources) for (const v of r.verbs) out.add(`${res}/${v}`);
  }
  return out;
}

function roleOf(kind: string): RbacObject {
  const r = rbac.find((o) => o.kind === kind);
  assert.ok(r, `docs/kubernetes.md shows a ${kind}`);
  return r;
}

describe('the configurations of docs/kubernetes.md', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-docs-k8s-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const load = async (text: string): Promise<KubernetesSpawnerConfig> => {
    const f = path.join(dir, `c${n++}.yaml`);
    writeFileSync(f, text);
    const config = (await loadConfig(f)).config;
    assert.equal(config.spawner.kind, 'kubernetes');
    const k = config.spawner as KubernetesSpawnerConfig;
    checkProfileList(k, 'spawner');
    return k;
  };
  const input = (config: KubernetesSpawnerConfig, user: string, server = ''): ManifestInput => ({
    config,
    user,
    server,
    names: serverObjectNames(config, user, server, 'jupyter'),
    env: { JUPYTERHUB_API_TOKEN: 'secret-token-docs', JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/` },
  });
  const valid = (i: ManifestInput): void => {
    assert.deepEqual(validateK8sObject('Pod', podManifest(i)), []);
    assert.deepEqual(validateK8sObject('Secret', secretManifest(i)), []);
    if (i.config.storage_pvc_ensure) assert.deepEqual(validateK8sObject('PersistentVolumeClaim', pvcManifest(i)), []);
  };

  it('shows two: the Up2U-like site and the platform stack', () => {
    assert.equal(configBlocks.length, 2);
  });

  it("the Up2U-like site: limits 2 / 0.5 cores and 2G / 1G, a 10G claim, /lab, jupyter-labhub, as the page says", async () => {
    const c = await load(configBlocks[0]!);
    const i = input(c, 'Alice.Smith');
    valid(i);
    const pod = podManifest(i);
    const container = pod.spec!.containers[0]!;
    assert.deepEqual(container.resources, { limits: { cpu: '2', memory: '2147483648' }, requests: { cpu: '500m', memory: '1073741824' } });
    assert.deepEqual(container.args, ['jupyter-labhub']);
    assert.ok(container.env!.some((e) => e.name === 'JUPYTERHUB_DEFAULT_URL' && e.value === '/lab'));
    assert.ok(!JSON.stringify(pod).includes('secret-token-docs'), 'the token is not in the pod');
    assert.equal(pvcManifest(i).spec!.resources!.requests!['storage'], '10G');
    assert.match(i.names.pod, /^jupyter-alice-smith---[0-9a-f]{8}$/);
    assert.equal(pod.metadata!.labels!['app.kubernetes.io/managed-by'], 'ganymede');
    assert.equal(pod.metadata!.annotations!['hub.jupyter.org/username'], 'Alice.Smith');
  });

  it('the platform stack: only datascience by default; the toggles switch profiles on; the CUDA variant asks for a GPU on GPU nodes', async () => {
    const c = await load(configBlocks[1]!);
    const user = { groups: [], admin: false };
    assert.deepEqual(
      checkProfileList(c).map((p) => p.slug),
      ['minimal', 'base', 'datascience', 'pyspark', 'pytorch', 'tensorflow', 'buun-stack'],
    );
    assert.deepEqual(availableProfiles(c, user, {}).map((p) => p.slug), ['datascience']);
    const env = { JUPYTER_PROFILE_BUUN_STACK_ENABLED: 'true', JUPYTER_PROFILE_PYTORCH_ENABLED: '1', JUPYTER_PROFILE_DATASCIENCE_ENABLED: 'no' };
    const profiles = availableProfiles(c, user, env);
    assert.deepEqual(profiles.map((p) => p.slug), ['pytorch', 'buun-stack']);
    const cpu = applyProfile(c, { profile: 'buun-stack' }, profiles).config;
    assert.match(cpu.image, /\/buun-stack:/);
    assert.deepEqual(cpu.extra_resource_limits, {});
    const gpu = applyProfile(c, { profile: 'buun-stack', variant: 'cuda' }, profiles).config;
    assert.match(gpu.image, /\/buun-stack-cuda:/);
    const i = input(gpu, 'bob');
    valid(i);
    const spec = podManifest(i).spec!;
    assert.equal(spec.containers[0]!.resources!.limits!['nvidia.com/gpu'], '1');
    assert.deepEqual(spec.nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    assert.equal(spec.tolerations![0]!.key, 'nvidia.com/gpu');
    assert.ok(spec.volumes!.some((v) => v.nfs?.server === 'nfs.example.org'), 'the NFS volume');
    // the registry and tag come from the environment (defaults when unset)
    const ds = applyProfile(c, { profile: 'datascience' }, availableProfiles(c, user, {})).config;
    assert.equal(ds.image, 'registry.example.org/platform/jupyter-datascience:2025.1');
  });
});

describe('the RBAC of docs/kubernetes.md', () => {
  const methods = kubeApiMethods();
  const called = calledMethods(methods);

  it('maps every KubeApi method to a resource and a verb', () => {
    assert.deepEqual([...methods].sort(), Object.keys(NEEDS).sort(), 'a method of kube-api.ts has no entry in NEEDS (or one was removed)');
  });

  it('the Role (shared namespace) grants every call the spawner makes, namespaces aside, and nothing else', () => {
    const have = grants(roleOf('Role'));
    const need = new Set([...called].filter((m) => NEEDS[m]!.only !== 'enable_user_namespaces').map((m) => `${NEEDS[m]!.resource}/${NEEDS[m]!.verb}`));
    assert.deepEqual([...have].sort(), [...need].sort());
  });

  it('the ClusterRole (user namespaces) grants every call the spawner makes, and nothing else', () => {
    const have = grants(roleOf('ClusterRole'));
    const need = new Set([...called].map((m) => `${NEEDS[m]!.resource}/${NEEDS[m]!.verb}`));
    assert.deepEqual([...have].sort(), [...need].sort());
  });

  it('says what the page says about calls the spawner does not make (get on pods)', () => {
    assert.ok(!called.has('readPod'), 'readPod is called now: grant get on pods and update the page');
  });

  it('binds the roles to the hub service account the page creates', () => {
    const sa = roleOf('ServiceAccount');
    for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
      const b = rbac.find((o) => o.kind === kind);
      assert.ok(b, kind);
      assert.equal(b.roleRef!.kind, kind === 'RoleBinding' ? 'Role' : 'ClusterRole');
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    }
  });
});
