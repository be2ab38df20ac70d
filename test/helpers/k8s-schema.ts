/**
 * Checks a Kubernetes object against the OpenAPI schemas of `kubernetes-models`
 * (the ajv validators it generates) AND refuses fields a schema does not
 * declare, which those validators let through. Shared by the manifest tests and
 * the API stand-in.
 *
 * kubernetes-models ships compiled validators, not JSON schemas, so a field is
 * "declared" when the validator of the whole kind looks at it: the field is set,
 * alone in a skeleton object, to a value no Kubernetes type accepts (a function),
 * and the validator must report a problem at exactly that path.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

/** The kinds this helper knows (all in the core `v1` group). */
export type K8sKind = 'Pod' | 'PersistentVolumeClaim' | 'Secret' | 'Namespace' | 'Service' | 'ConfigMap' | 'Event' | 'ServiceAccount';

interface AjvError {
  instancePath: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}
type CompiledValidator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

const require = createRequire(import.meta.url);
const modelsDir = path.dirname(require.resolve('kubernetes-models'));
const validators = new Map<K8sKind, CompiledValidator>();

/** The compiled validator of a kind (loaded by file: the package does not export `_schemas`). */
function validatorOf(kind: K8sKind): CompiledValidator {
  let v = validators.get(kind);
  if (!v) {
    const mod = require(path.join(modelsDir, '_schemas', `IoK8sApiCoreV1${kind}.js`)) as { validate: CompiledValidator };
    v = mod.validate;
    validators.set(kind, v);
  }
  return v;
}

/** A value of no JSON type: every declared field refuses it. */
const NOT_JSON = (): undefined => undefined;

function pointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** A skeleton holding only `leaf` at `segments` (array elements at index 0: items share one schema). */
function skeleton(segments: readonly (string | number)[], leaf: unknown): unknown {
  let value: unknown = leaf;
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    value = typeof s === 'number' ? [value] : { [s]: value };
  }
  return value;
}

function runErrors(validate: CompiledValidator, data: unknown): AjvError[] {
  try {
    validate(data);
    return validate.errors ?? [];
  } catch {
    // the validator touched the value and choked on it: it is declared
    return [{ instancePath: pointer([]), keyword: 'threw' }];
  }
}

/** Whether the schema declares the field at `segments` (array indices as 0). */
function declared(validate: CompiledValidator, segments: readonly (string | number)[]): boolean {
  const probe = segments.map((s) => (typeof s === 'number' ? 0 : s));
  const at = pointer(probe);
  const errors = runErrors(validate, skeleton(probe, NOT_JSON));
  return errors.some((e) => e.keyword === 'threw' || e.instancePath === at || e.instancePath.startsWith(at + '/'));
}

function walkUnknown(validate: CompiledValidator, value: unknown, segments: (string | number)[], problems: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => walkUnknown(validate, item, [...segments, i], problems));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (child === undefined) continue;
    const at = [...segments, key];
    if (!declared(validate, at)) {
      problems.push(`${pointer(at)}: unknown field "${key}"`);
      continue;
    }
    walkUnknown(validate, child, at, problems);
  }
}

function describe(e: AjvError): string {
  const params = e.params ? ' ' + JSON.stringify(e.params) : '';
  return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${params}`;
}

/**
 * The problems of `obj` as a `kind` object: schema errors (types, enums,
 * required fields, quantity formats) and fields no schema declares. Empty when valid.
 */
export function validateK8sObject(kind: K8sKind, obj: unknown): string[] {
  const validate = validatorOf(kind);
  const problems = runErrors(validate, JSON.parse(JSON.stringify(obj)) as unknown).map(describe);
  walkUnknown(validate, obj, [], problems);
  return problems;
}
