/**
 * The stand-in's answers as the apiserver shapes them: `Status` objects for
 * errors, and the label and field selectors the spawner sends.
 */

/** An error answer: HTTP `code` and the `Status` object the apiserver sends with it. */
export class K8sStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; kind?: string; causes?: { reason: string; message: string; field: string }[] },
  ) {
    super(message);
  }

  /** The `Status` body. */
  toStatus(): Record<string, unknown> {
    return statusObject(this.code, this.reason, this.message, this.details);
  }
}

/** A `Status` object (kind Status, status Failure). */
export function statusObject(code: number, reason: string, message: string, details?: object): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** 404 `<resource> "<name>" not found`. */
export const notFound = (resource: string, name: string): K8sStatusError =>
  new K8sStatusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });

/** 409 `<resource> "<name>" already exists`. */
export const alreadyExists = (resource: string, name: string): K8sStatusError =>
  new K8sStatusError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });

/** 422 Invalid naming every field (`problems`: `field: message`). */
export function invalid(kind: string, name: string, problems: string[]): K8sStatusError {
  const causes = problems.map((p) => {
    const i = p.indexOf(': ');
    return { reason: 'FieldValueInvalid', field: i > 0 ? fieldPath(p.slice(0, i)) : '', message: i > 0 ? p.slice(i + 2) : p };
  });
  const text = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new K8sStatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, { name, kind, causes });
}

/** A JSON pointer (`/spec/containers/0/name`) as the apiserver names fields (`spec.containers[0].name`); other text unchanged. */
function fieldPath(at: string): string {
  if (!at.startsWith('/')) return at;
  return at.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

/** 400 BadRequest. */
export const badRequest = (message: string): K8sStatusError => new K8sStatusError(400, 'BadRequest', message);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** The apiserver's name and label checks (`field: message` each). */
export function metadataProblems(meta: { name?: string; labels?: Record<string, string> }, label: boolean): string[] {
  const out: string[] = [];
  const name = meta.name ?? '';
  if (!name) out.push('metadata.name: Required value: name or generateName is required');
  else if (label ? name.length > 63 || !DNS_LABEL.test(name) : name.length > 253 || !DNS_SUBDOMAIN.test(name))
    out.push(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 ${label ? 'label' : 'subdomain'} is required`);
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    const slash = k.lastIndexOf('/');
    const prefix = slash >= 0 ? k.slice(0, slash) : '';
    const key = slash >= 0 ? k.slice(slash + 1) : k;
    if (key.length > 63 || !LABEL_NAME.test(key) || (slash >= 0 && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))))
      out.push(`metadata.labels: Invalid value: "${k}": not a qualified name`);
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) out.push(`metadata.labels: Invalid value: "${String(v)}": not a valid label value`);
  }
  return out;
}

type Pred = (o: Record<string, unknown>) => boolean;

/** A label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`) as a predicate; 400 when it does not parse. */
export function labelSelector(sel: string | null): Pred {
  if (!sel) return () => true;
  const preds: ((l: Record<string, string>) => boolean)[] = [];
  for (const part of sel.match(/([^,(]+(\([^)]*\))?)/g) ?? []) {
    const p = part.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      preds.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, k, op, vs] = m as unknown as [string, string, string, string];
      const set = new Set(vs.split(',').map((s) => s.trim()));
      preds.push(op === 'in' ? (l) => l[k] !== undefined && set.has(l[k]) : (l) => l[k] === undefined || !set.has(l[k]));
    } else if ((m = /^(!?)([\w./-]+)$/.exec(p))) {
      const [, not, k] = m as unknown as [string, string, string];
      preds.push(not ? (l) => !(k in l) : (l) => k in l);
    } else throw badRequest(`unable to parse requirement: ${p}`);
  }
  return (o) => {
    const labels = ((o.metadata as { labels?: Record<string, string> } | undefined)?.labels ?? {});
    return preds.every((f) => f(labels));
  };
}

const FIELDS = new Set(['metadata.name', 'metadata.namespace', 'status.phase', 'spec.nodeName', 'involvedObject.kind', 'involvedObject.name',
  'involvedObject.namespace', 'involvedObject.uid', 'reason', 'type']);

/** A field selector (`path=value`, `path!=value`, comma-joined) over the fields the apiserver supports here; 400 for others. */
export function fieldSelector(sel: string | null): Pred {
  if (!sel) return () => true;
  const preds: Pred[] = [];
  for (const part of sel.split(',')) {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${sel}'; can't understand '${part}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    if (!FIELDS.has(path)) throw badRequest(`field label not supported: ${path}`);
    const get = (o: Record<string, unknown>): string =>
      String(path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o) ?? '');
    preds.push(op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value);
  }
  return (o) => preds.every((f) => f(o));
}
