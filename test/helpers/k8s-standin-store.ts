/**
 * The stand-in's object store: one monotonically increasing resourceVersion
 * for every change, the change history watches replay from, and the live
 * watches. A watch from a resourceVersion older than the last compaction
 * (`expireWatches`) gets an ERROR event with a 410 Expired Status.
 */
import { randomUUID } from 'node:crypto';
import { alreadyExists, notFound, statusObject } from './k8s-standin-status.js';

/** A stored object (JSON as the apiserver returns it). */
export type K8sObject = Record<string, unknown> & { metadata: Record<string, unknown> };
/** A watch event as sent on the wire. */
export interface StoreEvent { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR'; object: Record<string, unknown> }

interface Change { rv: number; resource: string; event: StoreEvent }
interface Watcher { resource: string; namespace: string | undefined; match: (o: Record<string, unknown>) => boolean; send: (e: StoreEvent) => void; end: () => void }

const clone = <T>(o: T): T => structuredClone(o);
const key = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

/** The objects of every resource kind, with history and watches. */
export class K8sStore {
  private rv = 1;
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, K8sObject>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();

  /** The current resourceVersion (as a string, as the API has it). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  private table(resource: string): Map<string, K8sObject> {
    let t = this.objects.get(resource);
    if (!t) this.objects.set(resource, (t = new Map()));
    return t;
  }

  private record(resource: string, type: StoreEvent['type'], obj: K8sObject): void {
    const event = { type, object: clone(obj) };
    this.history.push({ rv: this.rv, resource, event });
    if (this.history.length > 10_000) this.history.splice(0, 1000);
    for (const w of this.watchers) if (w.resource === resource && inNs(obj, w.namespace) && w.match(obj)) w.send(clone(event));
  }

  /** Stores a new object (metadata filled: uid, resourceVersion, creationTimestamp); 409 when the name is taken. */
  create(resource: string, namespace: string | undefined, obj: K8sObject): K8sObject {
    const name = String(obj.metadata.name);
    const t = this.table(resource);
    if (t.has(key(namespace, name))) throw alreadyExists(resource, name);
    this.rv++;
    const stored = clone(obj);
    stored.metadata = { ...stored.metadata, ...(namespace ? { namespace } : {}), uid: randomUUID(), resourceVersion: String(this.rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    t.set(key(namespace, name), stored);
    this.record(resource, 'ADDED', stored);
    return clone(stored);
  }

  /** One object, or undefined. */
  get(resource: string, namespace: string | undefined, name: string): K8sObject | undefined {
    const o = this.table(resource).get(key(namespace, name));
    return o && clone(o);
  }

  /** Changes an object in place (a MODIFIED event); undefined when it is gone. */
  update(resource: string, namespace: string | undefined, name: string, change: (o: K8sObject) => void): K8sObject | undefined {
    const o = this.table(resource).get(key(namespace, name));
    if (!o) return undefined;
    change(o);
    this.rv++;
    o.metadata.resourceVersion = String(this.rv);
    this.record(resource, 'MODIFIED', o);
    return clone(o);
  }

  /** Removes an object (a DELETED event); 404 when there is none. */
  delete(resource: string, namespace: string | undefined, name: string): K8sObject {
    const t = this.table(resource);
    const o = t.get(key(namespace, name));
    if (!o) throw notFound(resource, name);
    t.delete(key(namespace, name));
    this.rv++;
    o.metadata.resourceVersion = String(this.rv);
    this.record(resource, 'DELETED', o);
    return clone(o);
  }

  /** The objects in `namespace` (undefined: all) that `match`. */
  list(resource: string, namespace: string | undefined, match: (o: Record<string, unknown>) => boolean = () => true): K8sObject[] {
    return [...this.table(resource).values()].filter((o) => inNs(o, namespace) && match(o)).map(clone);
  }

  /**
   * Starts a watch: replays the changes after `fromRv` (empty or "0": every
   * current object as ADDED), then sends live ones. From before the last
   * compaction: one ERROR 410 event and the watch ends. Returns the stop function.
   */
  watch(resource: string, namespace: string | undefined, match: (o: Record<string, unknown>) => boolean, fromRv: string | null, send: (e: StoreEvent) => void, end: () => void): () => void {
    const from = fromRv && fromRv !== '0' ? Number(fromRv) : undefined;
    if (from !== undefined && (!Number.isInteger(from) || from < this.compactedRv)) {
      send({ type: 'ERROR', object: statusObject(410, 'Expired', `too old resource version: ${fromRv} (${this.rv})`) });
      end();
      return () => {};
    }
    if (from === undefined) for (const o of this.list(resource, namespace, match)) send({ type: 'ADDED', object: o });
    else for (const c of this.history) if (c.rv > from && c.resource === resource && inNs(c.event.object as K8sObject, namespace) && match(c.event.object)) send(clone(c.event));
    const w: Watcher = { resource, namespace, match, send, end };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Compacts the history: every open watch gets ERROR 410 and ends; watches from an older resourceVersion get 410. */
  expireWatches(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    const all = [...this.watchers];
    this.watchers.clear();
    for (const w of all) {
      w.send({ type: 'ERROR', object: statusObject(410, 'Expired', `too old resource version: ${this.rv - 1} (${this.rv})`) });
      w.end();
    }
  }

  /** Ends every open watch without an event (the connection closes). */
  endWatches(): void {
    const all = [...this.watchers];
    this.watchers.clear();
    for (const w of all) w.end();
  }
}

function inNs(o: { metadata?: unknown }, ns: string | undefined): boolean {
  return ns === undefined || (o.metadata as { namespace?: string } | undefined)?.namespace === ns;
}
