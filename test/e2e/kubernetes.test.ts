/**
 * The Kubernetes deployment end to end (issue 13, "Tests"): a real in-process
 * hub with its real proxy and one `kind: kubernetes` back-end (`k8s`) whose
 * kubeconfig points at the Kubernetes API stand-in (test/helpers/k8s-standin.ts:
 * every body schema-checked, watches with resource versions, pods driven like
 * a cluster; running pods REALLY run the trivial server at their pod IP).
 * Up2U's values: limits 2 CPU / 2G, guarantees 0.5 / 1G, a 10G claim kept
 * across servers, `/lab`; profiles with a GPU and with options and a free text.
 * Every test ends with no request the stand-in refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, login, parseForm } from '../helpers/e2e.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { startK8sStandin, type K8sObject, type K8sStandin } from '../helpers/k8s-standin.js';
import { eventually, progressEvents, serverRecord } from '../helpers/server-state.js';
import { capturedLog } from '../helpers/slurm-hub.js';

const IMAGE = 'quay.io/jupyterhub/k8s-singleuser-sample:4.1.0';
const CUSTOM_IMAGE_RE = '^quay\\.io/[a-z0-9._/-]+:[A-Za-z0-9._-]+$';

/** The back-end's values, as a Z2JH site (Up2U) sets them. */
function k8sBackend(kubeconfig: string): Record<string, unknown> {
  return {
    kind: 'kubernetes',
    kube_config: kubeconfig,
    namespace: 'default',
    image: IMAGE,
    cpu_limit: 2,
    cpu_guarantee: 0.5,
    mem_limit: '2G',
    mem_guarantee: '1G',
    storage_pvc_ensure: true,
    storage_capacity: '10G',
    default_url: '/lab',
    // one claim per user, shared by all of the user's servers
    pvc_name_template: 'claim-{username}',
    request_timeout: 10,
    profile_list: [
      { display_name: 'Minimal', slug: 'minimal', description: 'The sample image', default: true },
      {
        display_name: 'PyTorch (GPU)',
        slug: 'pytorch-gpu',
        description: 'One NVIDIA GPU',
        kubespawner_override: {
          image: 'quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07',
          extra_resource_limits: { 'nvidia.com/gpu': '1' },
          node_selector: { 'nvidia.com/gpu.present': 'true' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
      {
        display_name: 'Data science',
        slug: 'datascience',
        profile_options: {
          image: {
            display_name: 'Image',
            choices: {
              stable: { display_name: 'Stable', default: true, kubespawner_override: { image: 'quay.io/jupyter/datascience-notebook:2024-10-07' } },
              latest: { display_name: 'Latest', kubespawner_override: { image: 'quay.io/jupyter/datascience-notebook:latest' } },
            },
            unlisted_choice: {
              enabled: true,
              display_name: 'Custom image',
              validation_regex: CUSTOM_IMAGE_RE,
              validation_message: 'Must be an image on quay.io with a tag',
              kubespawner_override: { image: '{value}' },
            },
          },
        },
      },
    ],
  };
}

type Pod = K8sObject & { metadata: { name: string; uid: string }; spec: { containers: Record<string, unknown>[]; volumes?: Record<string, unknown>[] }; status?: { podIP?: string } };

describe('the Kubernetes back-end end to end, through a real hub and proxy, over the API stand-in', () => {
  let standin: K8sStandin;
  let t: TestHub;
  let log: ReturnType<typeof capturedLog>;
  let admin = '';
  const hubs: TestHub[] = [];

  const hubConfig = () => ({ start_timeout: 4, slow_spawn_timeout: 0, allow_named_servers: true, spawners: { k8s: k8sBackend(standin.kubeconfigPath) } });

  before(async () => {
    standin = await startK8sStandin({ stepMs: 20 });
    log = capturedLog();
    t = await startTestHub(hubConfig(), { log: log.log });
    hubs.push(t);
    admin = await t.tokenFor('admin', { admin: true });
  });
  after(async () => {
    for (const h of hubs.reverse()) await h.stop().catch(() => undefined);
    await standin?.close();
  });

  /** The pod of `user`'s server (from the state the hub saved). */
  const podOf = async (user: string, server = ''): Promise<Pod> => {
    const row = (await serverRecord(t, user, server)).row;
    assert.ok(row, `no server row for ${user}/${server}`);
    const state = JSON.parse(row.state ?? '{}') as { pod?: string };
    assert.ok(state.pod, `no pod in the state of ${user}/${server}: ${row.state}`);
    const pod = standin.get('pods', 'default', state.pod) as Pod | undefined;
    assert.ok(pod, `the stand-in has no pod ${state.pod}`);
    return pod;
  };
  const spawnPath = (user: string, server = '') => (server ? `/users/${user}/servers/${server}` : `/users/${user}/server`);
  const spawn = async (user: string, server = '', options: Record<string, unknown> = {}) => {
    await t.tokenFor(user);
    const res = await t.api('POST', spawnPath(user, server), { token: admin, body: options });
    assert.ok([201, 202].includes(res.status), `spawn ${user}/${server}: ${res.status} ${res.text}`);
    return progressEvents(t, admin, user, server);
  };
  const stop = async (user: string, server = '') => {
    const res = await t.api('DELETE', spawnPath(user, server), { token: admin });
    assert.ok([202, 204].includes(res.status), `stop ${user}/${server}: ${res.status} ${res.text}`);
    await eventually(async () => {
      const row = (await serverRecord(t, user, server)).row;
      return row === undefined || (row.ready === 0 && row.pending === null);
    }, 15_000, `${user}/${server} stopped`);
  };
  const refused = () => standin.requests.filter((r) => r.status >= 400 && r.status !== 404 && r.status !== 409).map((r) => `${r.method} ${r.path} → ${r.status}`);

  it('spawns through the API: pulling progress then ready, answers through the proxy, the pod has the limits, the claim and the token by secretKeyRef; stop keeps the claim, a second server reuses it', async () => {
    const events = await spawn('alice');
    const messages = events.map((e) => e.message);
    const pulling = messages.findIndex((m) => m.includes(`Pulling image ${IMAGE}`));
    assert.ok(pulling >= 0, `no "Pulling image" progress:\n${messages.join('\n')}`);
    assert.equal(events.at(-1)?.ready, true, messages.join('\n'));

    const res = await fetch(`${t.publicUrl}/user/alice/api`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { user: string }).user, 'alice');

    const pod = await podOf('alice');
    const c = pod.spec.containers[0] as { name: string; image: string; resources: { limits: Record<string, string>; requests: Record<string, string> }; env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; volumeMounts: { name: string; mountPath: string }[] };
    assert.equal(c.name, 'notebook');
    assert.equal(c.image, IMAGE);
    // KubeSpawner's byte quantities: G is 1024^3
    assert.deepEqual(c.resources.limits, { cpu: '2', memory: String(2 * 1024 ** 3) });
    assert.ok(['0.5', '500m'].includes(String(c.resources.requests['cpu'])), JSON.stringify(c.resources));
    assert.equal(c.resources.requests['memory'], String(1024 ** 3));
    const token = c.env.find((e) => e.name === 'JUPYTERHUB_API_TOKEN');
    assert.ok(token?.valueFrom?.secretKeyRef, 'the token comes from the Secret');
    assert.equal(token.value, undefined);
    const secretName = token.valueFrom.secretKeyRef.name;
    const realToken = standin.podEnv('default', pod.metadata.name)?.['JUPYTERHUB_API_TOKEN'];
    assert.match(realToken ?? '', /^\S{16,}$/);
    assert.ok(!JSON.stringify(pod).includes(realToken!), 'the token is nowhere in the pod');
    assert.equal(c.env.find((e) => e.name === 'JUPYTERHUB_DEFAULT_URL')?.value, '/lab');
    const claimVolume = pod.spec.volumes?.find((v) => v['persistentVolumeClaim']) as { name: string; persistentVolumeClaim: { claimName: string } } | undefined;
    assert.ok(claimVolume, 'the pod mounts a claim');
    const claim = claimVolume.persistentVolumeClaim.claimName;
    assert.ok(c.volumeMounts.some((m) => m.name === claimVolume.name && m.mountPath === '/home/jovyan'));
    const pvc = standin.get('persistentvolumeclaims', 'default', claim) as { spec: { resources: { requests: { storage: string } } } } | undefined;
    assert.equal(pvc?.spec.resources.requests.storage, '10G');

    await stop('alice');
    assert.equal(standin.get('pods', 'default', pod.metadata.name), undefined, 'the pod is gone');
    assert.equal(standin.get('secrets', 'default', secretName), undefined, 'the secret is gone');
    assert.ok(standin.get('persistentvolumeclaims', 'default', claim), 'the claim is kept');
    assert.equal(log.text().includes(realToken!), false, 'the token is in the hub log');

    const pvcCreates = standin.requests.filter((r) => r.method === 'POST' && r.path.includes('/persistentvolumeclaims') && r.status === 201).length;
    const second = await spawn('alice', 'second');
    assert.equal(second.at(-1)?.ready, true, second.map((e) => e.message).join('\n'));
    assert.ok(second.some((e) => e.message.includes(`Using volume claim ${claim}`)), second.map((e) => e.message).join('\n'));
    const pod2 = await podOf('alice', 'second');
    assert.equal((pod2.spec.volumes?.find((v) => v['persistentVolumeClaim']) as { persistentVolumeClaim: { claimName: string } }).persistentVolumeClaim.claimName, claim);
    assert.equal(standin.requests.filter((r) => r.method === 'POST' && r.path.includes('/persistentvolumeclaims') && r.status === 201).length, pvcCreates, 'no second claim');
    await stop('alice', 'second');
    assert.deepEqual(refused(), []);
  });

  it('an image that cannot be pulled fails the spawn naming the image; nothing is left', async () => {
    standin.setScenario((_ns, name) => name.includes('bob'), 'image-pull-fail');
    const events = await spawn('bob');
    const last = events.at(-1);
    assert.equal(last?.failed, true, events.map((e) => e.message).join('\n'));
    assert.match(last.message, new RegExp(`${IMAGE.replace(/[.]/g, '\\.')}[^]*(ErrImagePull|ImagePullBackOff)|(ErrImagePull|ImagePullBackOff)[^]*${IMAGE.replace(/[.]/g, '\\.')}`));
    await eventually(() => standin.list('pods', 'default').every((p) => !String((p.metadata as { name: string }).name).includes('bob')), 10_000, "bob's pod deleted");
    assert.deepEqual(refused(), []);
  });

  it('an OOM-killed server gives a message saying so', async () => {
    standin.setScenario((_ns, name) => name.includes('carol'), 'oom');
    const events = await spawn('carol');
    const last = events.at(-1);
    if (last?.failed) {
      assert.match(last.message, /OOMKilled|OOM-killed|more memory than its limit/, events.map((e) => e.message).join('\n'));
    } else {
      // the pod was ready before it was killed: the hub's poll finds it stopped for the OOM kill
      assert.equal(last?.ready, true);
      await eventually(async () => {
        await t.hub.servers.pollRound();
        return (await serverRecord(t, 'carol')).row?.ready !== 1;
      }, 5_000, "carol's server stopped").catch(async (err: Error) => {
        const pod = await podOf('carol');
        throw new Error(`${err.message}\n${JSON.stringify(pod.status)}\n${log.text().split('\n').filter((l) => l.includes('carol')).slice(-5).join('\n')}`);
      });
      assert.match(log.text(), /OOMKilled|OOM-killed/);
    }
    assert.deepEqual(refused(), []);
  });

  it("an unschedulable pod: the progress shows the scheduler's reason and the spawn fails at start_timeout with it", async () => {
    standin.setScenario((_ns, name) => name.includes('dave'), 'unschedulable');
    const began = Date.now();
    const events = await spawn('dave');
    const messages = events.map((e) => e.message).join('\n');
    assert.ok(events.some((e) => !e.failed && e.message.includes('Insufficient cpu')), messages);
    const last = events.at(-1);
    assert.equal(last?.failed, true, messages);
    assert.match(last.message, /Insufficient cpu/);
    assert.ok(Date.now() - began >= 3500, `failed after ${Date.now() - began} ms, before start_timeout`);
    await eventually(() => standin.list('pods', 'default').every((p) => !String((p.metadata as { name: string }).name).includes('dave')), 10_000, "dave's pod deleted");
    assert.deepEqual(refused(), []);
  });

  it("a pod deleted outside the hub: the hub's poll marks the server stopped", async () => {
    const events = await spawn('erin');
    assert.equal(events.at(-1)?.ready, true);
    const pod = await podOf('erin');
    await standin.deleteOutside('default', pod.metadata.name);
    await eventually(async () => {
      await t.hub.servers.pollRound();
      const r = await serverRecord(t, 'erin');
      return r.row?.ready !== 1 && !r.routed;
    }, 10_000, "erin's server marked stopped");
    assert.deepEqual(refused(), []);
  });

  it('polling N running servers costs no API request per server: one list and one watch of pods in all', async () => {
    const users = ['poll1', 'poll2', 'poll3', 'poll4'];
    for (const u of users) assert.equal((await spawn(u)).at(-1)?.ready, true);
    const podWatchers = standin.requests.filter((r) => r.method === 'GET' && /^\/api\/v1\/namespaces\/default\/pods\?/.test(r.path));
    assert.deepEqual(podWatchers.map((r) => r.kind).sort(), ['list', 'watch'], `the hub's pod list and watch: ${podWatchers.map((r) => r.path).join(', ')}`);
    standin.resetCounts();
    for (let i = 0; i < 3; i++) await t.hub.servers.pollRound();
    for (const u of users) assert.equal((await serverRecord(t, u)).row?.ready, 1, `${u} still running`);
    assert.deepEqual(standin.requests.map((r) => `${r.method} ${r.path}`), [], 'polls made API requests');
    assert.deepEqual({ ...standin.counts }, { list: 0, watch: 0, get: 0, create: 0, delete: 0, other: 0 });
    for (const u of users) await stop(u);
  });

  it('the spawn form shows the profile cards; a posted profile, option and free text are checked (a bad one → 400 naming the field) and applied to the pod', async () => {
    const browser = new Browser(t.publicUrl);
    await login(browser, 'frank', 'test-password');
    const page = await browser.navigate('/hub/spawn');
    assert.equal(page.status, 200, page.text.slice(0, 300));
    for (const slug of ['minimal', 'pytorch-gpu', 'datascience']) assert.match(page.text, new RegExp(`<input type="radio" name="profile" value="${slug}"`));
    assert.match(page.text, /name="profile-option-datascience--image"/);
    assert.match(page.text, /name="profile-option-datascience--image--unlisted-choice"/);
    const xsrf = parseForm(page.text).fields['_xsrf'] ?? '';
    const post = (fields: Record<string, string>) =>
      browser.request('/hub/spawn', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _xsrf: xsrf, ...fields }).toString() });

    const creates = standin.counts.create;
    const bad = await post({ backend: 'k8s', profile: 'datascience', 'profile-option-datascience--image': '--unlisted-choice', 'profile-option-datascience--image--unlisted-choice': 'docker.io/evil:latest' });
    const badText = await bad.text();
    assert.equal(bad.status, 400, badText.slice(0, 500));
    assert.match(badText, /image/);
    assert.match(badText, /Must be an image on quay\.io with a tag/);
    assert.equal(standin.counts.create, creates, 'nothing was created');

    const custom = 'quay.io/frank/notebook:v3';
    const ok = await post({ backend: 'k8s', profile: 'datascience', 'profile-option-datascience--image': '--unlisted-choice', 'profile-option-datascience--image--unlisted-choice': custom });
    await ok.body?.cancel();
    assert.ok([302, 303].includes(ok.status), `POST /hub/spawn: ${ok.status}`);
    await eventually(async () => (await serverRecord(t, 'frank')).row?.ready === 1, 10_000, "frank's server ready");
    const pod = await podOf('frank');
    assert.equal((pod.spec.containers[0] as { image: string }).image, custom);
    await stop('frank');

    // the API path checks the same: a bad free text and an unknown profile → 400 naming the field
    const badApi = await t.api('POST', '/users/frank/server', { token: admin, body: { profile: 'datascience', 'image--unlisted-choice': 'nope' } });
    assert.equal(badApi.status, 400, badApi.text);
    assert.match(badApi.text, /image/);
    const unknown = await t.api('POST', '/users/frank/server', { token: admin, body: { profile: 'no-such-profile' } });
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.text, /profile/);

    // the GPU profile through the API
    const gpu = await spawn('frank', '', { profile: 'pytorch-gpu' });
    assert.equal(gpu.at(-1)?.ready, true, gpu.map((e) => e.message).join('\n'));
    const gpod = await podOf('frank');
    const gc = gpod.spec.containers[0] as { image: string; resources: { limits: Record<string, string> } };
    assert.equal(gc.image, 'quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07');
    assert.equal(gc.resources.limits['nvidia.com/gpu'], '1');
    assert.deepEqual((gpod.spec as { nodeSelector?: Record<string, string> }).nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    await stop('frank');

    // a listed choice of an option through the API
    const listed = await spawn('frank', '', { profile: 'datascience', image: 'latest' });
    assert.equal(listed.at(-1)?.ready, true, listed.map((e) => e.message).join('\n'));
    assert.equal(((await podOf('frank')).spec.containers[0] as { image: string }).image, 'quay.io/jupyter/datascience-notebook:latest');
    await stop('frank');
    assert.deepEqual(refused(), []);
  });

  it('a hub restart on the same database re-attaches to the running pod without recreating it', async () => {
    const events = await spawn('grace');
    assert.equal(events.at(-1)?.ready, true);
    const pod = await podOf('grace');
    const podCreates = standin.requests.filter((r) => r.method === 'POST' && r.path.includes('/pods')).length;
    const { dataDir, proxyServer, hubPort } = t;
    await t.detach();
    await t.hub.spawners.close(t.hub.log);
    hubs.splice(hubs.indexOf(t), 1);
    const t2 = await startTestHub(hubConfig(), { log: log.log, dataDir, proxyServer, hubPort, reattach: true });
    hubs.push(t2);
    t = t2;
    assert.equal(t2.reattached?.kept, 1, JSON.stringify(t2.reattached));
    const res = await fetch(`${t2.publicUrl}/user/grace/api`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.equal((await podOf('grace')).metadata.uid, pod.metadata.uid, 'the same pod');
    assert.equal(standin.requests.filter((r) => r.method === 'POST' && r.path.includes('/pods')).length, podCreates, 'no pod created');
    await stop('grace');
    assert.deepEqual(refused(), []);
  });
});
