import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { Pod, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';
import { serverObjectNames } from '../../src/spawners/kubernetes/kube-names.js';
import { cpuQuantity, memoryQuantity } from '../../src/spawners/kubernetes/kube-quantities.js';
import { ownerReferenceTo, podManifest, pvcManifest, secretManifest, serviceManifest, POD_LABEL_SELECTOR, type ManifestInput } from '../../src/spawners/kubernetes/manifests.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';

const TOKEN = 'tok-3f9a0c1d2e';

function config(over: Record<string, unknown> = {}): KubernetesSpawnerConfig {
  const c = Value.Default(KubernetesSpawnerSchema, Value.Clone({ kind: 'kubernetes', ...over })) as KubernetesSpawnerConfig;
  assert.ok(Value.Check(KubernetesSpawnerSchema, c), JSON.stringify([...Value.Errors(KubernetesSpawnerSchema, c)].map((e) => `${e.path}: ${e.message}`)));
  return c;
}

/** The environment the hub gives a server (a part of it). */
function hubEnv(user: string, server: string): Record<string, string> {
  const q = (n: string): string => n.replace(/[^A-Za-z0-9._-]/g, '_'); // the real hub quotes; any text does here
  const prefix = `/user/${q(user)}/${server ? q(server) + '/' : ''}`;
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    JUPYTERHUB_API_TOKEN: TOKEN,
    JPY_API_TOKEN: TOKEN,
    JUPYTERHUB_API_URL: 'http://hub:8081/hub/api',
    JUPYTERHUB_SERVICE_PREFIX: prefix,
    JUPYTERHUB_USER: user,
    JUPYTERHUB_SERVER_NAME: server,
  };
}

function input(c: KubernetesSpawnerConfig, user = 'alice', server = ''): ManifestInput {
  return { config: c, user, server, names: serverObjectNames(c, user, server, 'jhub'), env: hubEnv(user, server) };
}

/** Both checks: kubernetes-models' validator and no field the schema does not declare. */
function assertValid(kind: 'Pod' | 'PersistentVolumeClaim' | 'Secret', obj: object): void {
  assert.deepEqual(validateK8sObject(kind, obj), [], `${kind} ${JSON.stringify(obj)}`);
  const model = kind === 'Pod' ? new Pod(obj as never) : kind === 'Secret' ? new Secret(obj as never) : new PersistentVolumeClaim(obj as never);
  assert.doesNotThrow(() => model.validate());
  const meta = (obj as { metadata: { labels: Record<string, string> } }).metadata;
  for (const [k, v] of Object.entries(meta.labels)) {
    assert.ok(v.length <= 63 && /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v), `label ${k}=${v}`);
  }
}

const LABELS = {
  'hub.jupyter.org/username': 'alice',
  'hub.jupyter.org/servername': '',
  component: 'singleuser-server',
  'app.kubernetes.io/component': 'singleuser-server',
  'app.kubernetes.io/name': 'jupyterhub',
  'app.kubernetes.io/managed-by': 'ganymede',
};
const ANNOTATIONS = { 'hub.jupyter.org/username': 'alice', 'hub.jupyter.org/servername': '' };
const TOKEN_REFS = ['JUPYTERHUB_API_TOKEN', 'JPY_API_TOKEN'].map((name) => ({ name, valueFrom: { secretKeyRef: { name: 'jupyter-alice', key: name } } }));

/** Up2U's values: an image from the site's registry and tag, limits, 10G of storage, JupyterLab. */
const UP2U = {
  image: 'registry.up2u.example.org/jupyter/up2u-notebook:2024.10',
  cpu_limit: 2,
  cpu_guarantee: 0.5,
  mem_limit: '2G',
  mem_guarantee: '1G',
  storage_pvc_ensure: true,
  storage_capacity: '10G',
  default_url: '/lab',
  cmd: ['jupyter-labhub'],
  uid: 1000,
  fs_gid: 100,
};

test("Up2U's values give KubeSpawner's pod", () => {
  const pod = podManifest(input(config(UP2U)));
  assert.deepEqual(pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'jupyter-alice', namespace: 'jhub', labels: LABELS, annotations: ANNOTATIONS },
    spec: {
      containers: [
        {
          name: 'notebook',
          image: 'registry.up2u.example.org/jupyter/up2u-notebook:2024.10',
          args: ['jupyter-labhub'],
          ports: [{ name: 'notebook-port', containerPort: 8888 }],
          env: [
            { name: 'LANG', value: 'C.UTF-8' },
            { name: 'JUPYTERHUB_API_URL', value: 'http://hub:8081/hub/api' },
            { name: 'JUPYTERHUB_SERVICE_PREFIX', value: '/user/alice/' },
            { name: 'JUPYTERHUB_USER', value: 'alice' },
            { name: 'JUPYTERHUB_SERVER_NAME', value: '' },
            { name: 'JUPYTER_IMAGE', value: 'registry.up2u.example.org/jupyter/up2u-notebook:2024.10' },
            { name: 'JUPYTER_IMAGE_SPEC', value: 'registry.up2u.example.org/jupyter/up2u-notebook:2024.10' },
            { name: 'JUPYTERHUB_DEFAULT_URL', value: '/lab' },
            { name: 'JUPYTERHUB_SERVICE_URL', value: 'http://0.0.0.0:8888/user/alice/' },
            ...TOKEN_REFS,
          ],
          resources: {
            limits: { cpu: '2', memory: '2147483648' },
            requests: { cpu: '500m', memory: '1073741824' },
          },
          volumeMounts: [{ name: 'home-claim', mountPath: '/home/jovyan' }],
          securityContext: { runAsUser: 1000, allowPrivilegeEscalation: false },
        },
      ],
      restartPolicy: 'OnFailure',
      volumes: [{ name: 'home-claim', persistentVolumeClaim: { claimName: 'claim-alice' } }],
      securityContext: { fsGroup: 100 },
      automountServiceAccountToken: false,
    },
  });
  assertValid('Pod', pod);
});

test("Up2U's claim: 10G, the class and access modes, the server's labels", () => {
  const pvc = pvcManifest(input(config({ ...UP2U, storage_class: 'ceph-rbd' })));
  assert.deepEqual(pvc, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'claim-alice', namespace: 'jhub', labels: LABELS, annotations: ANNOTATIONS },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10G' } }, storageClassName: 'ceph-rbd' },
  });
  assertValid('PersistentVolumeClaim', pvc);
  const noClass = pvcManifest(input(config(UP2U)));
  assert.equal(noClass.spec?.storageClassName, undefined, 'empty storage_class: the cluster default');
  assertValid('PersistentVolumeClaim', noClass);
});

test('the secret holds the tokens (base64); the pod references them and never holds a token', () => {
  const i = input(config({ ...UP2U, environment: { DB_PASSWORD: 'pw-{username}', GREETING: 'hello {username}' } }));
  const secret = secretManifest(i);
  assert.deepEqual(secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'jupyter-alice', namespace: 'jhub', labels: LABELS, annotations: ANNOTATIONS },
    type: 'Opaque',
    data: {
      DB_PASSWORD: Buffer.from('pw-alice').toString('base64'),
      JUPYTERHUB_API_TOKEN: Buffer.from(TOKEN).toString('base64'),
      JPY_API_TOKEN: Buffer.from(TOKEN).toString('base64'),
    },
  });
  assertValid('Secret', secret);
  const pod = podManifest(i);
  assert.ok(!JSON.stringify(pod).includes(TOKEN), 'no token inline');
  assert.ok(!JSON.stringify(pod).includes('pw-alice'), 'no password inline');
  const env = pod.spec!.containers[0]!.env!;
  assert.deepEqual(env.find((e) => e.name === 'GREETING'), { name: 'GREETING', value: 'hello alice' });
  assert.deepEqual(env.find((e) => e.name === 'DB_PASSWORD'), { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'jupyter-alice', key: 'DB_PASSWORD' } } });
  assert.equal(env.find((e) => e.name === 'PATH' || e.name === 'HOME'), undefined, "the hub host's PATH and HOME stay out of the pod");
  assertValid('Pod', pod);
});

test("environment cannot replace the hub's variables (a profile cannot swap the token)", () => {
  const i = input(config({ environment: { JUPYTERHUB_API_TOKEN: 'mine', JUPYTERHUB_USER: 'mallory', PATH: '/opt/conda/bin:/usr/bin' } }));
  assert.equal(Buffer.from(secretManifest(i).data!['JUPYTERHUB_API_TOKEN']!, 'base64').toString(), TOKEN);
  const env = podManifest(i).spec!.containers[0]!.env!;
  assert.equal(env.find((e) => e.name === 'JUPYTERHUB_USER')?.value, 'alice');
  assert.equal(env.find((e) => e.name === 'PATH')?.value, '/opt/conda/bin:/usr/bin', 'environment may set PATH');
});

test("the platform stack's GPU profile: nvidia.com/gpu merged into limits, node selector and toleration", () => {
  const c = config({
    image: 'registry.buun.example/buun-stack/pytorch-cuda:12.4',
    cpu_limit: 4,
    mem_limit: '16G',
    extra_resource_limits: { 'nvidia.com/gpu': '1' },
    extra_resource_guarantees: { 'nvidia.com/gpu': '1' },
    node_selector: { 'nvidia.com/gpu.present': 'true', 'kubernetes.io/arch': 'amd64' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  });
  const pod = podManifest(input(c, 'alice', 'gpu'));
  const spec = pod.spec!;
  assert.deepEqual(spec.containers[0]!.resources, {
    limits: { cpu: '4', memory: String(16 * 2 ** 30), 'nvidia.com/gpu': '1' },
    requests: { 'nvidia.com/gpu': '1' },
  });
  assert.deepEqual(spec.nodeSelector, { 'nvidia.com/gpu.present': 'true', 'kubernetes.io/arch': 'amd64' });
  assert.deepEqual(spec.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  assert.equal(pod.metadata!.name, 'jupyter-alice--gpu');
  assert.equal(pod.metadata!.labels!['hub.jupyter.org/servername'], 'gpu');
  assert.equal(pod.metadata!.annotations!['hub.jupyter.org/servername'], 'gpu');
  assertValid('Pod', pod);
});

test('an NFS volume, a config map and a secret mounted, {username} replaced by the slug', () => {
  const c = config({
    volumes: [
      { name: 'shared', nfs: { server: 'nfs.example.org', path: '/exports/home/{username}', readOnly: false } },
      { name: 'startup', configMap: { name: 'jupyter-startup', defaultMode: 0o755, items: [{ key: 'start.sh', path: 'start.sh' }] } },
      { name: 'creds', secret: { secretName: 'creds-{username}', optional: true } },
    ],
    volume_mounts: [
      { name: 'shared', mountPath: '/home/jovyan/shared', subPath: '{username}' },
      { name: 'startup', mountPath: '/usr/local/bin/start-notebook.d', readOnly: true },
      { name: 'creds', mountPath: '/etc/creds', readOnly: true },
    ],
  });
  const pod = podManifest(input(c, 'Alice/../x'));
  const slug = serverObjectNames(c, 'Alice/../x', '', 'jhub').pod.slice('jupyter-'.length);
  assert.match(slug, /^alice-x---[0-9a-f]{8}$/);
  assert.deepEqual(pod.spec!.volumes, [
    { name: 'shared', nfs: { server: 'nfs.example.org', path: `/exports/home/${slug}`, readOnly: false } },
    { name: 'startup', configMap: { name: 'jupyter-startup', defaultMode: 0o755, items: [{ key: 'start.sh', path: 'start.sh' }] } },
    { name: 'creds', secret: { secretName: `creds-${slug}`, optional: true } },
  ]);
  assert.deepEqual(pod.spec!.containers[0]!.volumeMounts, [
    { name: 'shared', mountPath: '/home/jovyan/shared', subPath: slug },
    { name: 'startup', mountPath: '/usr/local/bin/start-notebook.d', readOnly: true },
    { name: 'creds', mountPath: '/etc/creds', readOnly: true },
  ]);
  assert.equal(pod.metadata!.annotations!['hub.jupyter.org/username'], 'Alice/../x', 'the raw name in the annotation');
  assertValid('Pod', pod);
  assert.equal((c.volumes[0] as { nfs: { path: string } }).nfs.path, '/exports/home/{username}', 'the config is not changed');
});

test('empty cmd: the image decides and args are dropped; cmd + args otherwise', () => {
  assert.equal(podManifest(input(config({ cmd: [], args: ['--debug'] }))).spec!.containers[0]!.args, undefined);
  assert.equal(podManifest(input(config({ cmd: [] }))).spec!.containers[0]!.command, undefined);
  assert.deepEqual(podManifest(input(config({ cmd: ['jupyterhub-singleuser'], args: ['--debug'] }))).spec!.containers[0]!.args, ['jupyterhub-singleuser', '--debug']);
});

test('pull policy and secrets, service account, uid/gid/groups, lifecycle hooks, port, extra labels and annotations', () => {
  const c = config({
    image_pull_policy: 'Always',
    image_pull_secrets: ['regcred'],
    service_account: 'notebook',
    uid: 1000,
    gid: 100,
    fs_gid: 100,
    supplemental_gids: [2000, 3000],
    port: 9999,
    lifecycle_hooks: { postStart: { exec: { command: ['sh', '-c', 'cp -rn /tmp/skel/. /home/jovyan'] } }, preStop: { exec: { command: ['sleep', '1'] } } },
    extra_labels: { 'example.org/team': 'data', 'example.org/user': '{username}', component: 'hijack' },
    extra_annotations: { 'example.org/owner': '{username}' },
  });
  const i = { ...input(c, 'bob', 'nb1'), hubLabels: { 'hub.jupyter.org/hub': 'main' } };
  const pod = podManifest(i);
  const ctr = pod.spec!.containers[0]!;
  assert.equal(ctr.imagePullPolicy, 'Always');
  assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: 'regcred' }]);
  assert.equal(pod.spec!.serviceAccountName, 'notebook');
  assert.equal(pod.spec!.automountServiceAccountToken, undefined);
  assert.deepEqual(ctr.securityContext, { runAsUser: 1000, runAsGroup: 100, allowPrivilegeEscalation: false });
  assert.deepEqual(pod.spec!.securityContext, { fsGroup: 100, supplementalGroups: [2000, 3000] });
  assert.deepEqual(ctr.lifecycle, c.lifecycle_hooks);
  assert.deepEqual(ctr.ports, [{ name: 'notebook-port', containerPort: 9999 }]);
  assert.equal(ctr.env!.find((e) => e.name === 'JUPYTERHUB_SERVICE_URL')?.value, 'http://0.0.0.0:9999/user/bob/nb1/');
  assert.deepEqual(pod.metadata!.labels, {
    'example.org/team': 'data',
    'example.org/user': 'bob',
    component: 'singleuser-server',
    'hub.jupyter.org/hub': 'main',
    'hub.jupyter.org/username': 'bob',
    'hub.jupyter.org/servername': 'nb1',
    'app.kubernetes.io/component': 'singleuser-server',
    'app.kubernetes.io/name': 'jupyterhub',
    'app.kubernetes.io/managed-by': 'ganymede',
  });
  assert.deepEqual(pod.metadata!.annotations, { 'example.org/owner': 'bob', 'hub.jupyter.org/username': 'bob', 'hub.jupyter.org/servername': 'nb1' });
  for (const sel of POD_LABEL_SELECTOR.split(',')) {
    const [k, v] = sel.split('=') as [string, string];
    assert.equal((pod.metadata!.labels as Record<string, string>)[k], v, `the selector ${sel} finds the pod`);
  }
  assertValid('Pod', pod);
  assertValid('Secret', secretManifest(i));
  assertValid('PersistentVolumeClaim', pvcManifest(i));
});

test('hostile user and server names give objects the Kubernetes schema accepts', () => {
  const c = config({ ...UP2U, volumes: [{ name: 'shared', nfs: { server: 'nfs', path: '/home/{username}/{servername}' } }], volume_mounts: [{ name: 'shared', mountPath: '/shared' }] });
  for (const user of ['Alice', 'a.b', 'a/b', 'ünïcödé', 'x'.repeat(300), 'a--b', '名前', 'a\uD800', 'user@example.org']) {
    for (const server of ['', 'Gpu.1', 'y'.repeat(300), '../..']) {
      const i = input(c, user, server);
      assertValid('Pod', podManifest(i));
      assertValid('PersistentVolumeClaim', pvcManifest(i));
      assertValid('Secret', secretManifest(i));
      const path = (podManifest(i).spec!.volumes![0] as { nfs: { path: string } }).nfs.path;
      assert.ok(!path.includes('..'), `no path climbing: ${path}`);
    }
  }
});

test('the schema helper refuses unknown fields and bad values', () => {
  const pod = podManifest(input(config(UP2U)));
  const typo = structuredClone(pod) as unknown as { spec: { containers: Record<string, unknown>[]; tolerations?: unknown[] } };
  typo.spec.containers[0]!['imagePullPolicyy'] = 'Always';
  typo.spec.tolerations = [{ key: 'k', operater: 'Exists' }];
  assert.deepEqual(validateK8sObject('Pod', typo), [
    '/spec/containers/0/imagePullPolicyy: unknown field "imagePullPolicyy"',
    '/spec/tolerations/0/operater: unknown field "operater"',
  ]);
  const badQuantity = podManifest(input(config({ extra_resource_limits: { 'nvidia.com/gpu': 'one' } })));
  assert.notDeepEqual(validateK8sObject('Pod', badQuantity), []);
});

test("quantities: KubeSpawner's 2G is 2 × 2^30 bytes; CPUs as cores or millicores", () => {
  assert.equal(memoryQuantity('2G'), '2147483648');
  assert.equal(memoryQuantity('1G'), '1073741824');
  assert.equal(memoryQuantity('1.5G'), '1610612736');
  assert.equal(memoryQuantity('512M'), '536870912');
  assert.equal(memoryQuantity('2Gi'), '2Gi');
  assert.equal(memoryQuantity('512Ki'), '512Ki');
  assert.equal(memoryQuantity('1000'), '1000');
  assert.equal(memoryQuantity(2e9), '2000000000');
  assert.throws(() => memoryQuantity('lots'), /not a memory amount/);
  assert.equal(cpuQuantity(2), '2');
  assert.equal(cpuQuantity(0.5), '500m');
  assert.equal(cpuQuantity(0.0001), '1m');
});

test('the secret can be owned by the created pod, so Kubernetes deletes it with the pod', () => {
  const i = input(config(UP2U));
  const created = { ...podManifest(i), metadata: { ...podManifest(i).metadata, uid: '0b7c9e1a-1111-4222-8333-444455556666' } };
  const secret = secretManifest(i);
  secret.metadata = { ...secret.metadata, ownerReferences: [ownerReferenceTo(created)] };
  assert.deepEqual(secret.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'jupyter-alice', uid: '0b7c9e1a-1111-4222-8333-444455556666', blockOwnerDeletion: false }]);
  assertValid('Secret', secret);
  assert.throws(() => ownerReferenceTo(podManifest(i)), /no name or uid/);
});

test('a Service in front of the server: named like the pod, selecting exactly its pod, port notebook-port, valid for hostile names', () => {
  for (const [user, server] of [['alice', ''], ['alice', 'gpu'], ['Ünïcode.User/..', 'x--y'], ['a'.repeat(300), 'b'.repeat(300)]] as const) {
    const i = input(config({ port: 8890 }), user, server);
    const svc = serviceManifest(i);
    const pod = podManifest(i);
    new Service(svc as never).validate();
    assert.deepEqual(validateK8sObject('Service', svc), []);
    assert.equal(svc.metadata?.name, pod.metadata?.name);
    assert.equal(svc.spec?.type, 'ClusterIP');
    assert.deepEqual(svc.spec?.ports, [{ name: 'notebook-port', port: 8890, targetPort: 'notebook-port', protocol: 'TCP' }]);
    for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) assert.equal(pod.metadata?.labels?.[k], v, `the pod carries ${k}=${v}`);
  }
  // two servers of one user are told apart by the selector
  const a = serviceManifest(input(config(), 'alice', '')).spec?.selector;
  const b = serviceManifest(input(config(), 'alice', 'gpu')).spec?.selector;
  assert.notDeepEqual(a, b);
});
