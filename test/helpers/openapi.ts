/**
 * Validates hub API responses (and request bodies) against JupyterHub's own
 * REST API description, `shared/specs/jupyterhub-rest-api-5.5.1.yml`
 * (OpenAPI 3.1, so its schemas are JSON Schema 2020-12).
 *
 * The spec is read from `<repo>/../shared/specs/` (override with the
 * environment variable `GANYMEDE_JH_SPEC`). When it is absent, `specAvailable`
 * is false and the validators do nothing except print one notice.
 *
 * Where the spec disagrees with what JupyterHub 5.5 actually sends, this
 * helper follows JupyterHub, and says so: see `nullablePatches`,
 * `jupyterhubErrorSchema` and the pagination envelope in `validateResponse`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import ajvFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (two levels above this file). */
export const repoRoot = resolve(here, '..', '..');
/** Where the spec is read from. */
export const specFile = process.env.GANYMEDE_JH_SPEC ?? resolve(repoRoot, '..', 'shared', 'specs', 'jupyterhub-rest-api-5.5.1.yml');
/** False when the spec file is missing: then validation is skipped. */
export const specAvailable: boolean = existsSync(specFile);

const NOTICE = 'NOTICE: ../shared/specs not found; API responses are not validated against the JupyterHub 5.5.1 spec';
let noticePrinted = false;
function noticeOnce(): void {
  if (noticePrinted) return;
  noticePrinted = true;
  process.stderr.write(`${NOTICE}\n`);
}

/** The base path of the API; spec paths are relative to it (`servers: [{url: /hub/api}]`). */
export const API_BASE = '/hub/api';

/**
 * Properties that the spec types as non-null but that JupyterHub 5.5 sends as
 * `null` (most say so in their own description). They are made nullable before
 * compiling, so that a response copied from a real JupyterHub validates.
 */
export const nullablePatches: ReadonlyArray<{ schema: string; property: string; reason: string }> = [
  { schema: 'User', property: 'server', reason: '"null if not running" (description)' },
  { schema: 'User', property: 'pending', reason: 'null when no action is pending' },
  { schema: 'User', property: 'last_activity', reason: 'null for a user never seen active' },
  { schema: 'User', property: 'auth_state', reason: '"None otherwise" (description)' },
  { schema: 'Server', property: 'pending', reason: 'null when no action is pending' },
  { schema: 'Server', property: 'started', reason: 'null for a stopped server (include_stopped_servers)' },
  { schema: 'Server', property: 'last_activity', reason: 'null for a server never seen active' },
  { schema: 'Server', property: 'state', reason: '"None otherwise" (description)' },
  { schema: 'Token', property: 'expires_at', reason: '"Null if there is no expiry" (description)' },
  { schema: 'Token', property: 'last_activity', reason: '"Can be null if token has never been used" (description)' },
  { schema: 'NewToken', property: 'expires_at', reason: '"Null if there is no expiry" (description)' },
  { schema: 'NewToken', property: 'last_activity', reason: '"Can be null if token has never been used" (description)' },
];

/**
 * JupyterHub's JSON error body (`APIHandler.write_error`): `{"status": N, "message": "..."}`.
 * The spec documents almost no error responses, so undocumented 4xx/5xx
 * answers are checked against this instead (unless `strictStatus`).
 * Not applied under `/oauth2/`, whose errors follow OAuth 2.0.
 */
export const jupyterhubErrorSchema = {
  type: 'object',
  required: ['status', 'message'],
  properties: { status: { type: 'integer' }, message: { type: 'string' } },
} as const;

export interface ValidateOptions {
  /**
   * Fail on any status the spec does not list for the operation, errors
   * included. Default false: an undocumented status >= 400 is accepted if its
   * body is JupyterHub's error model.
   */
  strictStatus?: boolean;
}

/** A spec operation matched by a request path. */
export interface MatchedOperation {
  /** The spec path, e.g. `/users/{name}/tokens/{token_id}`. */
  template: string;
  /** Lowercase HTTP method. */
  method: string;
  operationId: string | undefined;
  /** Decoded path parameters. */
  params: Record<string, string>;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

const SPEC_ID = 'https://ganymede.invalid/jupyterhub-rest-api-5.5.1.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Segment = { literal: string } | { param: string };
interface Route {
  template: string;
  segments: Segment[];
  literals: number;
  item: JsonObject;
}

type AjvInstance = InstanceType<typeof Ajv2020Module.default>;

interface Loaded {
  doc: JsonObject;
  routes: Route[];
  ajv: AjvInstance;
  validators: Map<string, ValidateFunction>;
  errorValidator: ValidateFunction;
}

let loaded: Loaded | undefined;

function isObject(x: Json | undefined): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function child(x: Json | undefined, key: string): Json | undefined {
  return isObject(x) ? x[key] : undefined;
}

function splitPath(path: string): string[] {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  return trimmed === '' ? [] : trimmed.split('/');
}

function applyNullablePatches(doc: JsonObject): void {
  const schemas = child(child(doc, 'components'), 'schemas');
  for (const { schema, property } of nullablePatches) {
    const prop = child(child(child(schemas, schema), 'properties'), property);
    if (!isObject(prop)) continue;
    const type = prop.type;
    if (typeof type === 'string') prop.type = [type, 'null'];
    else if (Array.isArray(type) && !type.includes('null')) type.push('null');
    if (Array.isArray(prop.enum) && !prop.enum.includes(null)) prop.enum.push(null);
  }
}

function collectFormats(x: Json | undefined, into: Set<string>): void {
  if (Array.isArray(x)) for (const v of x) collectFormats(v, into);
  else if (isObject(x)) {
    for (const [k, v] of Object.entries(x)) {
      if (k === 'format' && typeof v === 'string') into.add(v);
      else collectFormats(v, into);
    }
  }
}

function load(): Loaded {
  if (loaded !== undefined) return loaded;
  const parsed: unknown = parseYaml(readFileSync(specFile, 'utf8'));
  const doc = parsed as Json;
  if (!isObject(doc) || !isObject(doc.paths)) throw new Error(`${specFile}: not an OpenAPI document (no paths)`);
  applyNullablePatches(doc);

  const routes: Route[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!isObject(item)) continue;
    const segments: Segment[] = splitPath(template).map((s) => {
      const m = /^\{(.+)\}$/.exec(s);
      return m?.[1] !== undefined ? { param: m[1] } : { literal: s };
    });
    routes.push({ template, segments, literals: segments.filter((s) => 'literal' in s).length, item });
  }
  routes.sort((a, b) => b.literals - a.literals);

  const ajv = new Ajv2020Module.default({ strict: false, allErrors: true });
  ajvFormatsModule.default(ajv);
  // Formats ajv-formats does not know are not checked (rather than failing).
  const formats = new Set<string>();
  collectFormats(doc, formats);
  for (const f of formats) if (ajv.formats[f] === undefined) ajv.addFormat(f, true);
  ajv.addSchema(doc as object, SPEC_ID, undefined, false);
  const errorValidator = ajv.compile(jupyterhubErrorSchema);

  loaded = { doc, routes, ajv, validators: new Map(), errorValidator };
  return loaded;
}

/** The parsed spec (with `nullablePatches` applied), or undefined when absent. */
export function specDocument(): Record<string, unknown> | undefined {
  return specAvailable ? load().doc : undefined;
}

/** Every operation in the spec, as `METHOD /template`. */
export function specOperations(): string[] {
  if (!specAvailable) return [];
  const out: string[] = [];
  for (const r of load().routes) {
    for (const m of METHODS) if (isObject(r.item[m])) out.push(`${m.toUpperCase()} ${r.template}`);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------

/** The path below `/hub/api` of a URL (absolute or path-only, with or without base_url prefix). */
function apiPath(url: string): string {
  const noOrigin = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  const path = noOrigin.split(/[?#]/, 1)[0] ?? '';
  const m = /\/hub\/api(?=\/|$)/.exec(path);
  if (m === null) throw new Error(`OpenAPI: ${url} is not under ${API_BASE}`);
  const rest = path.slice(m.index + m[0].length);
  return rest === '' ? '/' : rest;
}

function matchRoute(routes: Route[], path: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = splitPath(path);
  for (const route of routes) {
    if (route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = route.segments[i];
      const part = parts[i] ?? '';
      if (seg === undefined) ok = false;
      else if ('literal' in seg) ok = seg.literal === part;
      else if (part === '' && seg.param !== 'server_name') ok = false; // only server_name may be '' (default server)
      else {
        try {
          params[seg.param] = decodeURIComponent(part);
        } catch {
          ok = false;
        }
      }
    }
    if (ok) return { route, params };
  }
  return undefined;
}

function findRoute(url: string): { route: Route; params: Record<string, string>; path: string } | undefined {
  const { routes } = load();
  const path = apiPath(url);
  const exact = matchRoute(routes, path);
  if (exact !== undefined) return { ...exact, path };
  if (path.length > 1 && path.endsWith('/')) {
    const stripped = matchRoute(routes, path.slice(0, -1));
    if (stripped !== undefined) return { ...stripped, path };
  }
  return undefined;
}

/**
 * The spec operation for a request, or undefined if the spec is absent.
 *
 * @throws Error when the path or the method is not in the spec.
 */
export function findOperation(method: string, url: string): MatchedOperation | undefined {
  if (!specAvailable) return undefined;
  const found = findRoute(url);
  const m = method.toLowerCase();
  if (found === undefined) throw new Error(`OpenAPI: ${method.toUpperCase()} ${url}: path is not in the JupyterHub 5.5.1 spec`);
  const op = found.route.item[m];
  if (!isObject(op)) {
    const allowed = METHODS.filter((x) => isObject(found.route.item[x])).map((x) => x.toUpperCase());
    throw new Error(
      `OpenAPI: ${method.toUpperCase()} ${found.route.template} (from ${url}): method not in the spec (documented: ${allowed.join(', ')})`,
    );
  }
  const operationId = typeof op.operationId === 'string' ? op.operationId : undefined;
  return { template: found.route.template, method: m, operationId, params: found.params };
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'other'; mediaType: string };

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const mt = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  return mt === '' ? undefined : mt;
}

function isJsonMedia(mt: string): boolean {
  return mt === 'application/json' || mt.endsWith('+json');
}

function classifyBody(body: unknown, contentType: string | undefined, where: string): Body {
  const mt = mediaTypeOf(contentType);
  if (body === undefined) return { kind: 'none' };
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) text = Buffer.from(body).toString('utf8');
  if (text === undefined) {
    if (mt !== undefined && !isJsonMedia(mt)) return { kind: 'other', mediaType: mt };
    return { kind: 'json', value: body };
  }
  if (text.length === 0) return { kind: 'none' };
  if (mt !== undefined && !isJsonMedia(mt)) return { kind: 'other', mediaType: mt };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch (e) {
    if (mt === undefined) return { kind: 'other', mediaType: 'unknown' };
    throw new Error(`OpenAPI: ${where}: body is not valid JSON (${(e as Error).message}): ${excerpt(text)}`, { cause: e });
  }
}

function excerpt(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  const lines = (errors ?? []).slice(0, 12).map((e) => {
    const params = e.keyword === 'additionalProperties' || e.keyword === 'enum' ? ` ${JSON.stringify(e.params)}` : '';
    return `  ${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? e.keyword}${params} [${e.schemaPath}]`;
  });
  if ((errors?.length ?? 0) > 12) lines.push(`  … ${(errors?.length ?? 0) - 12} more`);
  return lines.join('\n');
}

function pointer(segments: string[]): string {
  return `#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

function validatorFor(segments: string[]): ValidateFunction {
  const l = load();
  const ptr = pointer(segments);
  let v = l.validators.get(ptr);
  if (v === undefined) {
    v = l.ajv.compile({ $ref: `${SPEC_ID}${ptr}` });
    l.validators.set(ptr, v);
  }
  return v;
}

/** The schema at `segments`, following one top-level `$ref` into components. */
function rawSchema(segments: string[]): JsonObject | undefined {
  let node: Json | undefined = load().doc;
  for (const s of segments) node = child(node, s);
  const ref = child(node, '$ref');
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    node = load().doc;
    for (const s of ref.slice(2).split('/')) node = child(node, s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return isObject(node) ? node : undefined;
}

function isPaginatedEnvelope(value: unknown): value is { items: unknown[]; _pagination: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Array.isArray((value as { items?: unknown }).items) &&
    '_pagination' in value
  );
}

function checkErrorBody(where: string, status: number, body: Body): void {
  if (body.kind !== 'json') return;
  const { errorValidator } = load();
  if (!errorValidator(body.value)) {
    throw new Error(
      `OpenAPI: ${where}: error body is not JupyterHub's {status, message}:\n${formatErrors(errorValidator.errors)}\nbody: ${excerpt(body.value)}`,
    );
  }
  const got = (body.value as { status: number }).status;
  if (got !== status) throw new Error(`OpenAPI: ${where}: error body says status ${got}, HTTP status is ${status}`);
}

// ---------------------------------------------------------------------------
// Public validators
// ---------------------------------------------------------------------------

/**
 * Check one API response against the spec.
 *
 * - `url` is the request path as sent (`/hub/api/users/alice/tokens/a1?x=1`,
 *   an absolute URL, or with a base_url prefix); the query is ignored. A
 *   trailing slash is ignored unless it is meaningful (an empty `server_name`).
 * - `body` is the raw payload (string or Buffer, parsed according to
 *   `contentType`) or an already parsed JSON value.
 * - JSON bodies are validated against the documented `application/json`
 *   schema. Bodies of other media types (event streams, HTML) and operations
 *   documented without content only get the status checked; 204 must be empty.
 * - A paginated answer (`{items, _pagination}`, sent by JupyterHub when the
 *   request has `Accept: application/jupyterhub-pagination+json`) is accepted
 *   where the spec documents a plain array: `items` is validated against the
 *   array schema and `_pagination` against `Pagination`.
 *
 * @throws Error naming the operation, the status and the schema errors when the
 *   path or method is not in the spec, the status is not documented (see
 *   `ValidateOptions.strictStatus` for errors), or the body does not match.
 */
export function validateResponse(
  method: string,
  url: string,
  status: number,
  body: unknown,
  contentType?: string,
  options: ValidateOptions = {},
): void {
  if (!specAvailable) {
    noticeOnce();
    return;
  }
  const op = findOperation(method, url);
  if (op === undefined) return;
  const where = `${method.toUpperCase()} ${op.template} (from ${url}) -> ${status}`;
  const responses = child(child(load().doc.paths, op.template), op.method);
  const resps = child(responses, 'responses');
  const key = [String(status), `${String(status).charAt(0)}XX`, 'default'].find((k) => child(resps, k) !== undefined);
  const parsed = classifyBody(body, contentType, where);
  const oauth = op.template.startsWith('/oauth2/');

  if (key === undefined) {
    if (status >= 400 && options.strictStatus !== true) {
      if (!oauth) checkErrorBody(where, status, parsed);
      return;
    }
    const documented = isObject(resps) ? Object.keys(resps).join(', ') : 'none';
    throw new Error(`OpenAPI: ${where}: status ${status} is not documented (documented: ${documented})`);
  }

  if (status === 204 || status === 304) {
    if (parsed.kind !== 'none') throw new Error(`OpenAPI: ${where}: a ${status} response must have no body, got ${excerpt(body)}`);
    return;
  }

  const schemaPath = ['paths', op.template, op.method, 'responses', key, 'content', 'application/json', 'schema'];
  if (child(child(child(child(resps, key), 'content'), 'application/json'), 'schema') === undefined) {
    if (status >= 400 && !oauth) checkErrorBody(where, status, parsed);
    return;
  }
  if (parsed.kind === 'none') throw new Error(`OpenAPI: ${where}: expected a JSON body, got none`);
  if (parsed.kind === 'other') throw new Error(`OpenAPI: ${where}: expected application/json, got ${parsed.mediaType}`);

  const validate = validatorFor(schemaPath);
  if (rawSchema(schemaPath)?.type === 'array' && isPaginatedEnvelope(parsed.value)) {
    if (!validate(parsed.value.items)) {
      throw new Error(`OpenAPI: ${where}: paginated items do not match the schema:\n${formatErrors(validate.errors)}\nbody: ${excerpt(parsed.value)}`);
    }
    const pagination = validatorFor(['components', 'schemas', 'Pagination']);
    if (!pagination(parsed.value._pagination)) {
      throw new Error(`OpenAPI: ${where}: _pagination does not match Pagination:\n${formatErrors(pagination.errors)}`);
    }
    return;
  }
  if (!validate(parsed.value)) {
    throw new Error(`OpenAPI: ${where}: body does not match the schema:\n${formatErrors(validate.errors)}\nbody: ${excerpt(parsed.value)}`);
  }
}

/**
 * Check a request body against the operation's documented `requestBody`.
 * Does nothing when the operation documents no request body (JupyterHub
 * accepts some undocumented ones, e.g. `POST /users/{name}`).
 * `application/x-www-form-urlencoded` bodies may be given as a string.
 *
 * @throws Error when the path/method is not in the spec, a required body is
 *   missing, or the body does not match.
 */
export function validateRequestBody(method: string, url: string, body: unknown, contentType = 'application/json'): void {
  if (!specAvailable) {
    noticeOnce();
    return;
  }
  const op = findOperation(method, url);
  if (op === undefined) return;
  const where = `${method.toUpperCase()} ${op.template} (from ${url}) request body`;
  const reqBody = child(child(child(load().doc.paths, op.template), op.method), 'requestBody');
  if (!isObject(reqBody)) return;
  const mt = mediaTypeOf(contentType) ?? 'application/json';
  const content = child(reqBody, 'content');
  let parsed: Body;
  if (mt === 'application/x-www-form-urlencoded' && typeof body === 'string') {
    parsed = body === '' ? { kind: 'none' } : { kind: 'json', value: Object.fromEntries(new URLSearchParams(body)) };
  } else if (mt === 'application/x-www-form-urlencoded' && typeof body === 'object' && body !== null) {
    parsed = { kind: 'json', value: body };
  } else {
    parsed = classifyBody(body, contentType, where);
  }
  if (parsed.kind === 'none') {
    if (reqBody.required === true) throw new Error(`OpenAPI: ${where}: a body is required`);
    return;
  }
  if (child(content, mt) === undefined) {
    const documented = isObject(content) ? Object.keys(content).join(', ') : 'none';
    throw new Error(`OpenAPI: ${where}: media type ${mt} is not documented (documented: ${documented})`);
  }
  if (parsed.kind === 'other') return;
  const schemaPath = ['paths', op.template, op.method, 'requestBody', 'content', mt, 'schema'];
  if (child(child(content, mt), 'schema') === undefined) return;
  const validate = validatorFor(schemaPath);
  if (!validate(parsed.value)) {
    throw new Error(`OpenAPI: ${where}: does not match the schema:\n${formatErrors(validate.errors)}\nbody: ${excerpt(parsed.value)}`);
  }
}
