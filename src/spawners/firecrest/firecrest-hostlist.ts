/**
 * The first node of a Slurm host list, as FirecREST's job info gives it in
 * `nodes` (pure): `nid001`, `nid[001-003,007],x1` → `nid001`. Only the
 * first entry is expanded; the list comes from outside and is checked.
 */

/** A host list longer than this is refused (a job's list is compressed by Slurm). */
const MAX_LIST = 4096;

/** The first entry: a prefix, then optionally one bracket group and a suffix. */
const FIRST = /^([A-Za-z0-9._-]*)(?:\[([0-9]+)(?:-[0-9]+)?(?:,[0-9,-]*)?\]([A-Za-z0-9._-]*))?(?:,|$)/;

/**
 * The first host of Slurm host list `list`, or undefined when it names none
 * (empty, `None assigned`, `(null)`) or is not a host list (spaces, quotes,
 * unbalanced brackets, nested or several bracket groups in the first entry,
 * more than {@link MAX_LIST} characters). A range keeps its zero padding
 * (`nid[001-003]` → `nid001`). The caller still checks the result as a host
 * name (exechost.ts `plausibleHost`).
 */
export function firstHost(list: string): string | undefined {
  if (typeof list !== 'string' || list.length === 0 || list.length > MAX_LIST) return undefined;
  if (!/^[A-Za-z0-9._,[\]-]+$/.test(list)) return undefined;
  const m = FIRST.exec(list);
  if (!m) return undefined;
  const [, prefix = '', first, suffix = ''] = m;
  const host = first === undefined ? prefix : `${prefix}${first}${suffix}`;
  if (host === '' || /^(?:none|null|n\/a|\(null\))$/i.test(host)) return undefined;
  return host;
}
