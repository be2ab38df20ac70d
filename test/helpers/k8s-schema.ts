/**
 * TEMPORARY local version (the "manifests" part owns this file): checks a
 * Kubernetes object against the OpenAPI schema (kubernetes-models' ajv
 * validators) and rejects fields the schema does not name (walking
 * @kubernetes/client-node's attribute maps), as a strict apiserver would.
 */
import * as k8s from '@kubernetes/client-node';
import { Namespace, PersistentVolumeClaim, Pod, Secret, Event } from 'kubernetes-models/v1';

type Validator = new (o: never) => { validate(): void };
const MODELS: Record<string, [Validator, string]> = {
  Pod: [Pod as unknown as Validator, 'V1Pod'],
  PersistentVolumeClaim: [PersistentVolumeClaim as unknown as Validator, 'V1PersistentVolumeClaim'],
  Secret: [Secret as unknown as Validator, 'V1Secret'],
  Namespace: [Namespace as unknown as Validator, 'V1Namespace'],
  Event: [Event as unknown as Validator, 'CoreV1Event'],
};

interface Attr { baseName: string; type: string }
function attributes(type: string): Attr[] | undefined {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attr[] }>)[type];
  return cls?.getAttributeTypeMap?.();
}

function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}[${k}]`, out);
    return;
  }
  const attrs = attributes(type);
  if (!attrs || typeof value !== 'object' || Array.isArray(value)) return;
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const t = known.get(k);
    const field = path ? `${path}.${k}` : k;
    if (t === undefined) out.push(`${field}: unknown field "${k}"`);
    else unknownFields(v, t, field, out);
  }
}

/** Schema problems of `obj` as kind `kind` (`Pod`, `Secret`...), each naming the field; [] when valid. */
export function validateK8sObject(kind: string, obj: unknown): string[] {
  const model = MODELS[kind];
  if (!model) return [`kind: unsupported kind "${kind}"`];
  const out: string[] = [];
  try {
    new model[0](obj as never).validate();
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (errors?.length) for (const e of errors) out.push(`${e.instancePath.slice(1).replace(/\//g, '.') || '(root)'}: ${e.message ?? 'invalid'}`);
    else out.push(`(root): ${(err as Error).message}`);
  }
  unknownFields(obj, model[1], '', out);
  return out;
}
