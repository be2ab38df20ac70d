/**
 * The rules of the FirecREST spawn form as pure functions: which accounts a
 * user may charge (FirecREST's userinfo), which partitions they may pick
 * (config ∩ FirecREST), what a safe reservation or custom environment looks
 * like, and whether a custom environment is a container image or a uenv.
 * src/spawners/firecrest/firecrest-form.ts applies them.
 */
import type { FirecrestPartition, FirecrestUserInfo } from './firecrest-api.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';

/** Every `user_options` key the FirecREST back-end accepts. */
export const FIRECREST_OPTION_KEYS = ['account', 'partition', 'nnodes', 'runtime', 'reservation', 'environment', 'custom_environment'] as const;

/** The `environment` value that picks the user's own `custom_environment`. */
export const CUSTOM_ENVIRONMENT = 'custom';

/** How many values an error message lists before it says "…". */
const LISTED = 20;

/** Values for a message: `a, b, c` (at most {@link LISTED}), or `none`. */
export function listed(values: readonly string[]): string {
  if (values.length === 0) return 'none';
  return values.slice(0, LISTED).join(', ') + (values.length > LISTED ? ', …' : '');
}

/**
 * One word Slurm and a shell take as is (an account, partition or
 * reservation name): a letter or digit first, then letters, digits, `.`,
 * `_`, `-`; at most 128 characters.
 */
export const SAFE_WORD = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The characters a custom uenv or image may ever hold, whatever the
 * configured pattern allows: a letter or digit first, then letters, digits
 * and `. _ / : + @ % = -`, at most 256 characters. So no whitespace, quotes,
 * `$`, backticks, `;`, `,` (it separates uenvs), `\`, or control characters.
 */
const SAFE_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._/:+@%=-]{0,255}$/;

/**
 * Why a custom environment is unsafe to put into a job script, or undefined
 * when it is safe. Besides {@link SAFE_REFERENCE}, `:/` is refused: it would
 * name a mount point of its own (`image:/etc`).
 */
export function customEnvironmentProblem(value: string): string | undefined {
  if (!SAFE_REFERENCE.test(value)) {
    return 'must be one word of letters, digits and . _ / : + @ % = - (starting with a letter or digit, at most 256 characters; no spaces, quotes, $, `, ; or ,)';
  }
  if (value.includes(':/')) return 'must not name a mount point (":/")';
  if (value.includes('..')) return 'must not hold ".."';
  return undefined;
}

/**
 * True when a custom environment is a container image reference rather
 * than a uenv: its first `/`-separated part is a registry host, i.e. holds a
 * `.` or a `:` (a port) or is `localhost` (`docker.io/library/ubuntu:24.04`,
 * `jfrog.svc.cscs.ch/x/y:1`, `localhost:5000/img`). uenv names
 * (`prgenv-gnu/24.11:v1`) have no dot or colon before their first `/`.
 */
export function isImageReference(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash <= 0) return false;
  const host = value.slice(0, slash);
  return host === 'localhost' || host.includes('.') || host.includes(':');
}

/** The accounts the user may charge: userinfo's `accounts`, or else their primary group. */
export function userAccounts(info: FirecrestUserInfo): string[] {
  const names = (info.accounts ?? []).map((a) => a?.name).filter((n): n is string => typeof n === 'string' && n !== '');
  if (names.length > 0) return [...new Set(names)];
  const group = info.group?.name;
  return typeof group === 'string' && group !== '' ? [group] : [];
}

/**
 * The account a job gets when the user picks none: `req_account`, else the
 * account userinfo marks default, else the user's primary group; undefined
 * when there is none. Names from FirecREST that are no {@link SAFE_WORD}
 * are passed over (they would go into the job script).
 */
export function defaultAccount(config: FirecrestSpawnerConfig, info: FirecrestUserInfo): string | undefined {
  if (config.req_account) return config.req_account;
  const safe = (name: unknown): name is string => typeof name === 'string' && SAFE_WORD.test(name);
  const marked = (info.accounts ?? []).find((a) => a?.default === true && safe(a.name));
  if (marked) return marked.name;
  const group = info.group?.name;
  return safe(group) ? group : undefined;
}

/** Partition states in which Slurm starts no new job. */
const UNUSABLE_STATES = new Set(['DOWN', 'DRAIN', 'INACTIVE']);

/**
 * A partition's state words, upper case: `state`, else the spec's
 * `partition` field (a string or a list), which FirecREST fills with the
 * state.
 */
function stateWords(p: FirecrestPartition): string[] {
  const raw: unknown = p.state ?? (p as { partition?: unknown }).partition;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((s): s is string => typeof s === 'string').map((s) => s.toUpperCase());
}

/** A partition the user may see; `unusable` says why it cannot be picked (`DOWN`, `name not usable`). */
export interface PartitionChoice {
  name: string;
  unusable?: string;
}

/** Why a name from FirecREST (account, partition) cannot go into a job, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  return SAFE_WORD.test(name) ? undefined : 'name not usable';
}

/**
 * The partitions a user may pick, in FirecREST's order: each one FirecREST
 * lists (named by a string), limited to `form.partitions` when that is set.
 * A partition that is DOWN, DRAIN or INACTIVE, or whose name is no
 * {@link SAFE_WORD}, is kept but marked unusable.
 */
export function partitionChoices(config: FirecrestSpawnerConfig, listedByFirecrest: readonly FirecrestPartition[]): PartitionChoice[] {
  const allowed = config.form.partitions.length > 0 ? new Set(config.form.partitions) : undefined;
  const seen = new Set<string>();
  const out: PartitionChoice[] = [];
  for (const p of listedByFirecrest) {
    const name = p?.name;
    if (typeof name !== 'string' || name === '' || seen.has(name) || (allowed && !allowed.has(name))) continue;
    seen.add(name);
    const down = stateWords(p).find((s) => UNUSABLE_STATES.has(s));
    const unusable = nameProblem(name) ?? down;
    out.push(unusable === undefined ? { name } : { name, unusable });
  }
  return out;
}
