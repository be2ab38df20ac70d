import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { ConfigError } from '../lib/errors.js';
import { expandEnvRefs } from './env-refs.js';
import { convertWholeRefs } from './whole-refs.js';
import { configNameProblems } from './names-check.js';
import { devUsersProblems } from '../auth/dev-users.js';
import { isSecretKey } from '../lib/log-sanitize.js';
import { ConfigSchema, HOOK_NAMES, type Config, type ConfigHooks } from './schema.js';

export interface LoadedConfig {
  config: Config;
  hooks: ConfigHooks;
  /** The file the config came from, if any. */
  source: string | undefined;
}

/** How {@link loadConfig} reads the file. */
export interface LoadOptions {
  /**
   * Import a JS/TS config module again rather than from node's module cache
   * (a live reload, src/hub/reload.ts): the module's URL gets a query naming
   * this number. Modules it imports itself still come from the cache.
   */
  fresh?: number;
}

/** Reads a config file (YAML, JSON, or a JS module whose default export is the config), validates it and fills defaults. */
export async function loadConfig(file: string | undefined, overrides: Record<string, unknown> = {}, opts: LoadOptions = {}): Promise<LoadedConfig> {
  let raw: Record<string, unknown> = {};
  let hooks: ConfigHooks = {};
  if (file) {
    const loaded = await readConfigFile(file, opts);
    raw = convertWholeRefs(ConfigSchema, loaded.raw, loaded.wholeRefs);
    hooks = loaded.hooks;
  }
  const merged = deepMerge(raw, overrides);
  return { config: validateConfig(merged), hooks, source: file };
}

async function readConfigFile(file: string, opts: LoadOptions): Promise<{ raw: Record<string, unknown>; hooks: ConfigHooks; wholeRefs: Array<Array<string | number>> }> {
  const abs = path.resolve(file);
  if (/\.(m?js|ts)$/.test(abs)) {
    let mod: { default?: unknown };
    try {
      const url = pathToFileURL(abs);
      if (opts.fresh !== undefined) url.search = `reload=${opts.fresh}`;
      mod = (await import(url.href)) as { default?: unknown };
    } catch (err) {
      throw new ConfigError(`config file ${file}: cannot load module: ${(err as Error).message}`);
    }
    const exported = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
    if (!isPlainObject(exported)) throw new ConfigError(`config file ${file}: the default export must be an object (the config)`);
    const raw = { ...exported };
    const hooks: ConfigHooks = {};
    const hookSource = raw['hooks'];
    delete raw['hooks'];
    if (hookSource !== undefined) {
      if (!isPlainObject(hookSource)) throw new ConfigError(`config file ${file}: hooks: expected an object of functions`);
      for (const [name, fn] of Object.entries(hookSource)) {
        if (!(HOOK_NAMES as readonly string[]).includes(name)) {
          throw new ConfigError(`config file ${file}: hooks.${name}: unknown hook${didYouMean(name, HOOK_NAMES)}`);
        }
        if (typeof fn !== 'function') throw new ConfigError(`config file ${file}: hooks.${name}: expected a function, got ${describe(fn)}`);
        (hooks as Record<string, unknown>)[name] = fn;
      }
      if (hooks.preSpawnStart && hooks.pre_spawn_hook) {
        throw new ConfigError(`config file ${file}: hooks: preSpawnStart is the older name of pre_spawn_hook; give only one of them`);
      }
    }
    return { raw, hooks, wholeRefs: [] };
  }
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = (await import('yaml')).default.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return { raw: {}, hooks: {}, wholeRefs: [] };
  if (!isPlainObject(parsed)) throw new ConfigError(`config file ${file}: the top level must be a mapping of options`);
  // `${VAR}` references (src/config/env-refs.ts), expanded before validation
  const expanded = expandEnvRefs(parsed);
  if (expanded.problems.length) {
    const lines = expanded.problems.map((p) => `${p.key}: ${p.message}`);
    throw new ConfigError(
      lines.length === 1 ? `config file ${file}: ${lines[0]}` : `config file ${file}: ${lines.length} problems:\n${lines.map((l) => `  ${l}`).join('\n')}`,
      lines,
    );
  }
  return { raw: expanded.value as Record<string, unknown>, hooks: {}, wholeRefs: expanded.wholeRefs };
}

/**
 * Validates a raw config object and fills defaults. Throws one ConfigError
 * listing every problem found (unknown keys, wrong types, values out of
 * range), each naming the key, the value and what was expected.
 */
export function validateConfig(raw: Record<string, unknown>): Config {
  const problems: Problem[] = [];
  checkUnknownKeys(ConfigSchema, raw, '', problems);
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw)) as Record<string, unknown>;
  fillMapDefaults(ConfigSchema, withDefaults);
  for (const err of schemaErrors(ConfigSchema, withDefaults)) {
    const key = err.path.replace(/^\//, '').replaceAll('/', '.') || '(top level)';
    // a union or an unknown key already reported at a parent covers what lies below it
    if (problems.some((p) => key === p.key || key.startsWith(`${p.key}.`) || p.key.startsWith(`${key}.`))) continue;
    // a list written as one string (e.g. `dev_users: ${DEV_USERS}`): say how a variable gives a list
    const listHint = /^expected array/i.test(err.message) && typeof err.value === 'string' ? ' (a list from one variable: write ["${VAR}"], split on white space)' : '';
    // a secret's value is never quoted back (the message reaches logs: a live reload logs it)
    const got = isSecretKey(key.split('.').pop() ?? '') && err.value !== undefined ? 'a value not shown (a secret)' : describe(err.value);
    problems.push({ key, message: `${err.message.toLowerCase()}, got ${got}${listHint}` });
  }
  if (problems.length === 0) {
    const config = withDefaults as Config;
    if (config.api_page_default_limit > config.api_page_max_limit) {
      problems.push({
        key: 'api_page_default_limit',
        message: `${config.api_page_default_limit} must not exceed api_page_max_limit (${config.api_page_max_limit})`,
      });
    }
    problems.push(...configNameProblems(config));
    if (config.auth.kind === 'shared-password') problems.push(...devUsersProblems(config.auth.dev_users));
    if (problems.length === 0) return config;
  }
  throw new ConfigError(formatProblems(problems), problems.map((p) => `${p.key}: ${p.message}`));
}

/**
 * The schema's errors for a value, where a union of kinds (`auth`,
 * `spawner`) is checked as the member its `kind` names (with that member's
 * defaults), so an error names the key inside it (`auth.client_id`) rather
 * than "expected union value".
 */
export function schemaErrors(schema: TSchema, value: unknown): Array<{ path: string; message: string; value: unknown }> {
  const out: Array<{ path: string; message: string; value: unknown }> = [];
  for (const err of Value.Errors(schema, value)) {
    const member = err.schema[Kind] === 'Union' ? kindMember(err.schema, err.value) : undefined;
    if (!member) {
      out.push({ path: err.path, message: err.message, value: err.value });
      continue;
    }
    const filled = Value.Default(member, Value.Clone(err.value));
    for (const inner of schemaErrors(member, filled)) out.push({ ...inner, path: `${err.path}${inner.path}` });
  }
  return out;
}

/** The member of a union of kinds that a value's `kind` (or the default kind) names. */
function kindMember(union: TSchema, value: unknown): TSchema | undefined {
  if (!isPlainObject(value)) return undefined;
  const members = (union as unknown as { anyOf: TSchema[] }).anyOf;
  const kindOf = (m: TSchema) => (m as TObject).properties?.['kind']?.['const'] as unknown;
  if (!members.every((m) => m[Kind] === 'Object' && kindOf(m) !== undefined)) return undefined;
  const kind = value['kind'] ?? (union['default'] as { kind?: unknown } | undefined)?.kind ?? kindOf(members[0]!);
  return members.find((m) => kindOf(m) === kind);
}

/** One thing wrong in a config: the dotted key and what is wrong with it. */
interface Problem {
  key: string;
  message: string;
}

function formatProblems(problems: Problem[]): string {
  if (problems.length === 1) return `config: ${problems[0]!.key}: ${problems[0]!.message}`;
  return `config: ${problems.length} problems:\n${problems.map((p) => `  ${p.key}: ${p.message}`).join('\n')}`;
}

/**
 * Fills the defaults of the entries of top-level maps of kinds (`spawners:`),
 * which `Value.Default` leaves alone: each entry gets those of the member its
 * `kind` names.
 */
function fillMapDefaults(schema: TObject, config: Record<string, unknown>): void {
  for (const [key, prop] of Object.entries(schema.properties)) {
    const map = config[key];
    if (prop[Kind] !== 'Record' || !isPlainObject(map)) continue;
    const entrySchema = Object.values((prop as unknown as { patternProperties: Record<string, TSchema> }).patternProperties)[0];
    if (!entrySchema) continue;
    for (const [name, entry] of Object.entries(map)) {
      if (!isPlainObject(entry)) continue;
      const member = entrySchema[Kind] === 'Union' ? kindMember(entrySchema, entry) : entrySchema;
      if (member) map[name] = Value.Default(member, entry);
    }
  }
}

function checkUnknownKeys(schema: TSchema, value: unknown, at: string, problems: Problem[]): void {
  if (schema[Kind] === 'Array' && Array.isArray(value)) {
    // entries of a list of objects (`services:`, `roles:`): their keys and maps are checked as any other's
    const items = (schema as unknown as { items: TSchema }).items;
    value.forEach((item, i) => checkUnknownKeys(items, item, at ? `${at}.${i}` : String(i), problems));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema[Kind] === 'Record') {
    // a map of named entries (`spawners:`): each name matches the key pattern, each entry is checked as its schema
    const [pattern, entrySchema] = Object.entries((schema as unknown as { patternProperties: Record<string, TSchema> }).patternProperties)[0] ?? [];
    if (!pattern || !entrySchema) return;
    const re = new RegExp(pattern);
    for (const [key, sub] of Object.entries(value)) {
      const where = at ? `${at}.${key}` : key;
      if (!re.test(key)) {
        problems.push({ key: where, message: `${JSON.stringify(key)} is not a valid name (${(schema['keyDescription'] as string | undefined) ?? `it must match ${pattern}`})` });
        continue;
      }
      checkUnknownKeys(entrySchema, sub, where, problems);
    }
    return;
  }
  if (schema[Kind] === 'Union') {
    const members = (schema as unknown as { anyOf: TSchema[] }).anyOf;
    const kinds = members.map((m) => (m as TObject).properties?.['kind']?.['const'] as string | undefined).filter((k) => k);
    if (kinds.length === 0) return; // a union of plain values (a form field's `default`): the schema check reports it
    const kind = value['kind'] ?? (members[0] as TObject).properties?.['kind']?.['default'];
    const member = members.find((m) => (m as TObject).properties?.['kind']?.['const'] === kind);
    if (!member) {
      problems.push({ key: `${at}.kind`, message: `unknown kind ${describe(kind)}; expected one of ${kinds.join(', ')}` });
      return;
    }
    checkUnknownKeys(member, value, at, problems);
    return;
  }
  if (schema[Kind] !== 'Object') return;
  const props = (schema as TObject).properties;
  for (const [key, sub] of Object.entries(value)) {
    const where = at ? `${at}.${key}` : key;
    const propSchema = Object.hasOwn(props, key) ? props[key] : undefined; // "__proto__" is not an option
    if (!propSchema) {
      if ((schema as TObject).additionalProperties === false) {
        problems.push({ key: where, message: `unknown option${didYouMean(key, Object.keys(props))}` });
      }
      continue;
    }
    checkUnknownKeys(propSchema, sub, where, problems);
  }
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  const prefixed = candidates.find((c) => word.length >= 4 && c.toLowerCase().startsWith(word.toLowerCase()));
  if (prefixed) return ` (did you mean "${prefixed}"?)`;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s && s.length > 60 ? `${s.slice(0, 57)}...` : String(s);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const existing = out[k];
    out[k] = isPlainObject(existing) && isPlainObject(v) ? deepMerge(existing, v) : v;
  }
  return out;
}
