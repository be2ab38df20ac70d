/**
 * The stand-in's "cluster": drives each created pod through the phases,
 * conditions and events a real one goes through, per scenario, and for
 * pods that run, REALLY starts `test/fixtures/trivial-server.mjs` with the
 * pod's environment (secretKeyRef resolved from stored Secrets) on a
 * loopback address of its own (127.0.x.y; Linux routes all of 127/8),
 * which becomes the pod's `status.podIP`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { K8sObject, K8sStore } from './k8s-standin-store.js';

/**
 * What a pod does once created: `run` (default), `unschedulable` (Pending,
 * FailedScheduling), `image-pull-fail` (ErrImagePull, ImagePullBackOff),
 * `oom` (runs, then OOMKilled exit 137: phase Failed with restartPolicy
 * Never, else restarted into CrashLoopBackOff with the OOM in lastState),
 * `crash-loop` (Running, CrashLoopBackOff, exit 1 in lastState).
 */
export type PodScenario = 'run' | 'unschedulable' | 'image-pull-fail' | 'oom' | 'crash-loop';

const SERVER = fileURLToPath(new URL('../fixtures/trivial-server.mjs', import.meta.url));
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Container { name: string; image?: string; env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, unknown>> }[]; ports?: { name?: string; containerPort: number }[] }

/** Runs the pods of one stand-in. */
export class PodDriver {
  private readonly children = new Map<string, ChildProcess>();
  private readonly envs = new Map<string, Record<string, string>>();
  private readonly scenarios: { match: (ns: string, name: string) => boolean; scenario: PodScenario }[] = [];
  private readonly gone = new Set<string>();
  private nextIp = randomBytes(2).readUInt16BE() % 60000;
  private closed = false;

  constructor(
    private readonly store: K8sStore,
    private readonly stepMs: number,
    private readonly realServers = true,
  ) {}

  /** Sets the scenario of pods named `pod` (or matching a predicate); the last one set wins. A running pod switches now for `oom`/`crash-loop`. */
  setScenario(pod: string | ((namespace: string, name: string) => boolean), scenario: PodScenario): void {
    const match = typeof pod === 'string' ? (_ns: string, n: string) => n === pod : pod;
    this.scenarios.unshift({ match, scenario });
    for (const p of this.store.list('pods', undefined)) {
      const { namespace, name } = p.metadata as { namespace: string; name: string };
      if (match(namespace, name) && (p.status as { phase?: string } | undefined)?.phase === 'Running' && (scenario === 'oom' || scenario === 'crash-loop'))
        void this.fail(namespace, name, scenario).catch(() => {});
    }
  }

  /** The environment the pod's server was started with (secret values resolved), if it was. */
  envOf(namespace: string, name: string): Record<string, string> | undefined {
    return this.envs.get(`${namespace}/${name}`);
  }

  /** The number of server processes alive. */
  get running(): number {
    return this.children.size;
  }

  private scenarioOf(ns: string, name: string): PodScenario {
    return this.scenarios.find((s) => s.match(ns, name))?.scenario ?? 'run';
  }

  private event(ns: string, pod: K8sObject, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet'): void {
    const name = String(pod.metadata.name);
    const t = now();
    this.store.create('events', ns, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { kind: 'Pod', namespace: ns, name, uid: pod.metadata.uid, apiVersion: 'v1', resourceVersion: pod.metadata.resourceVersion, ...(component === 'kubelet' ? { fieldPath: 'spec.containers{notebook}' } : {}) },
      reason, message, type, count: 1, firstTimestamp: t, lastTimestamp: t,
      source: { component, ...(component === 'kubelet' ? { host: 'standin-node-1' } : {}) }, reportingComponent: component, reportingInstance: '',
    });
  }

  private setStatus(ns: string, name: string, change: (s: Record<string, unknown>, pod: K8sObject) => void): K8sObject | undefined {
    if (this.closed || this.gone.has(`${ns}/${name}`)) return undefined;
    return this.store.update('pods', ns, name, (p) => {
      if (p.metadata.deletionTimestamp) return;
      p.status ??= {};
      change(p.status as Record<string, unknown>, p);
    });
  }

  /** Takes a newly created pod through its scenario (runs in the background). */
  started(ns: string, pod: K8sObject): void {
    this.gone.delete(`${ns}/${String(pod.metadata.name)}`);
    void this.drive(ns, String(pod.metadata.name)).catch(() => {});
  }

  private async drive(ns: string, name: string): Promise<void> {
    const scenario = (): PodScenario => this.scenarioOf(ns, name);
    await sleep(this.stepMs);
    let pod = this.store.get('pods', ns, name);
    if (!pod || this.closed) return;
    if (scenario() === 'unschedulable') {
      const message = '0/3 nodes are available: 3 Insufficient cpu.';
      this.setStatus(ns, name, (s) => {
        s.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now() }];
      });
      this.event(ns, pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
      return;
    }
    const spec = pod.spec as { containers: Container[] };
    const c = spec.containers.find((x) => x.name === 'notebook') ?? spec.containers[0]!;
    const image = c.image ?? '';
    pod = this.setStatus(ns, name, (s, p) => {
      (p.spec as Record<string, unknown>).nodeName = 'standin-node-1';
      s.hostIP = '10.0.0.1';
      s.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }];
      s.containerStatuses = [{ name: c.name, image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } } }];
    });
    if (!pod) return;
    this.event(ns, pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to standin-node-1`, 'default-scheduler');
    await sleep(this.stepMs);
    if (!this.store.get('pods', ns, name)) return;
    this.event(ns, pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    await sleep(this.stepMs);
    if (!this.store.get('pods', ns, name)) return;
    if (scenario() === 'image-pull-fail') {
      this.event(ns, pod, 'Warning', 'Failed', `Failed to pull image "${image}": rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`);
      this.event(ns, pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.waiting(ns, name, 'ErrImagePull', `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`);
      await sleep(this.stepMs);
      this.event(ns, pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
      this.event(ns, pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      this.waiting(ns, name, 'ImagePullBackOff', `Back-off pulling image "${image}"`);
      return;
    }
    this.event(ns, pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in 1.2s (1.2s including waiting)`);
    let env: Record<string, string>;
    try {
      env = this.resolveEnv(ns, name, c);
    } catch (err) {
      this.event(ns, pod, 'Warning', 'Failed', `Error: ${(err as Error).message}`);
      this.waiting(ns, name, 'CreateContainerConfigError', (err as Error).message);
      return;
    }
    this.event(ns, pod, 'Normal', 'Created', `Created container ${c.name}`);
    const port = c.ports?.find((p) => p.name === 'notebook-port')?.containerPort ?? c.ports?.[0]?.containerPort ?? 8888;
    const ip = this.allocateIp();
    if (scenario() !== 'crash-loop' && this.realServers) {
      await this.startServer(ns, name, ip, port, env);
      if (!this.store.get('pods', ns, name)) return this.stopServer(ns, name);
    }
    this.event(ns, pod, 'Normal', 'Started', `Started container ${c.name}`);
    const t = now();
    this.setStatus(ns, name, (s) => {
      s.phase = 'Running';
      s.podIP = ip;
      s.podIPs = [{ ip }];
      s.startTime = t;
      s.conditions = [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Initialized', status: 'True', lastTransitionTime: t },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: t },
        { type: 'Ready', status: 'True', lastTransitionTime: t },
      ];
      s.containerStatuses = [{ name: c.name, image, imageID: `${image}@sha256:${'0'.repeat(64)}`, ready: true, restartCount: 0, started: true, state: { running: { startedAt: t } } }];
    });
    const now2 = scenario();
    if (now2 === 'oom' || now2 === 'crash-loop') {
      await sleep(this.stepMs);
      await this.fail(ns, name, now2);
    }
  }

  private waiting(ns: string, name: string, reason: string, message: string): void {
    this.setStatus(ns, name, (s) => {
      const cs = (s.containerStatuses as Record<string, unknown>[] | undefined)?.[0];
      if (cs) cs.state = { waiting: { reason, message } };
    });
  }

  /** A running pod's container dies: OOM-killed (phase Failed) or crash-looping (Running, waiting CrashLoopBackOff). */
  private async fail(ns: string, name: string, how: 'oom' | 'crash-loop'): Promise<void> {
    await this.stopServer(ns, name);
    const pod = this.store.get('pods', ns, name);
    if (!pod) return;
    const t = now();
    const notReady = (s: Record<string, unknown>): void => {
      s.conditions = (s.conditions as { type: string }[] | undefined)?.map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'ContainersNotReady', lastTransitionTime: t } : c));
    };
    if (how === 'oom') {
      const oom = { exitCode: 137, reason: 'OOMKilled', startedAt: t, finishedAt: t, containerID: '' };
      const restarts = (pod.spec as { restartPolicy?: string }).restartPolicy !== 'Never';
      this.setStatus(ns, name, (s) => {
        if (!restarts) s.phase = 'Failed';
        notReady(s);
        const cs = (s.containerStatuses as Record<string, unknown>[])[0]!;
        Object.assign(cs, { ready: false, started: false, state: { terminated: oom } });
      });
      this.event(ns, pod, 'Warning', 'OOMKilling', `Memory cgroup out of memory: Killed process (node) in container notebook of pod ${ns}/${name}`);
      if (!restarts) return;
      // restartPolicy Always/OnFailure: the kubelet restarts it, then backs off; the OOM stays in lastState.
      await sleep(this.stepMs);
      this.setStatus(ns, name, (s) => {
        const cs = (s.containerStatuses as Record<string, unknown>[])[0]!;
        Object.assign(cs, { restartCount: 1, lastState: { terminated: oom }, state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=notebook pod=${name}_${ns}(${String(pod.metadata.uid)})` } } });
      });
      this.event(ns, pod, 'Warning', 'BackOff', `Back-off restarting failed container notebook in pod ${name}_${ns}(${String(pod.metadata.uid)})`);
      return;
    }
    for (let restart = 1; restart <= 2; restart++) {
      this.setStatus(ns, name, (s) => {
        notReady(s);
        const cs = (s.containerStatuses as Record<string, unknown>[])[0]!;
        Object.assign(cs, {
          ready: false, started: false, restartCount: restart,
          lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: t, finishedAt: t } },
          state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${10 * restart}s restarting failed container=notebook pod=${name}_${ns}(${String(pod.metadata.uid)})` } },
        });
      });
      this.event(ns, pod, 'Warning', 'BackOff', `Back-off restarting failed container notebook in pod ${name}_${ns}(${String(pod.metadata.uid)})`);
      await sleep(this.stepMs);
    }
  }

  private allocateIp(): string {
    const i = this.nextIp++ % 64516;
    return `127.0.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`;
  }

  private resolveEnv(ns: string, podName: string, c: Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const { name, key, optional } = e.valueFrom.secretKeyRef as { name: string; key: string; optional?: boolean };
        const secret = this.store.get('secrets', ns, name);
        const data = (secret?.data as Record<string, string> | undefined)?.[key];
        if (data === undefined) {
          if (optional) continue;
          throw new Error(secret ? `couldn't find key ${key} in Secret ${ns}/${name}` : `secret "${name}" not found`);
        }
        env[e.name] = Buffer.from(data, 'base64').toString('utf8');
      } else if (e.valueFrom?.fieldRef) {
        const path = String(e.valueFrom.fieldRef.fieldPath);
        env[e.name] = path === 'metadata.namespace' ? ns : path === 'metadata.name' ? podName : '';
      }
    }
    return env;
  }

  private async startServer(ns: string, name: string, ip: string, port: number, env: Record<string, string>): Promise<void> {
    const given = env.JUPYTERHUB_SERVICE_URL ? new URL(env.JUPYTERHUB_SERVICE_URL) : new URL('http://0.0.0.0/');
    given.hostname = ip;
    given.port = String(port);
    const childEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, JUPYTERHUB_SERVICE_URL: given.toString() };
    this.envs.set(`${ns}/${name}`, env);
    const child = spawn(process.execPath, [SERVER], { env: childEnv, stdio: 'ignore' });
    this.children.set(`${ns}/${name}`, child);
    child.on('exit', () => {
      if (this.children.get(`${ns}/${name}`) === child) this.children.delete(`${ns}/${name}`);
    });
    for (let i = 0; i < 100 && child.exitCode === null && !this.closed; i++) {
      if (await canConnect(ip, port)) return;
      await sleep(50);
    }
  }

  /** Stops the pod's server (SIGTERM, SIGKILL after 2 s); resolves when it has exited. */
  async stopServer(ns: string, name: string): Promise<void> {
    const child = this.children.get(`${ns}/${name}`);
    if (!child) return;
    this.children.delete(`${ns}/${name}`);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Deletes a pod as the cluster does: Terminating (deletionTimestamp), server stopped, then gone (DELETED). */
  async deletePod(ns: string, name: string, graceSeconds = 30): Promise<K8sObject | undefined> {
    const marked = this.store.update('pods', ns, name, (p) => {
      p.metadata.deletionTimestamp ??= now();
      p.metadata.deletionGracePeriodSeconds ??= graceSeconds;
    });
    if (!marked) return undefined;
    this.gone.add(`${ns}/${name}`);
    void (async () => {
      await sleep(this.stepMs);
      await this.stopServer(ns, name);
      if (this.store.get('pods', ns, name)) this.store.delete('pods', ns, name);
    })().catch(() => {});
    return marked;
  }

  /** Kills every server process; resolves when all have exited. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.children.keys()].map((k) => {
      const [ns, name] = k.split('/') as [string, string];
      return this.stopServer(ns, name);
    }));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
