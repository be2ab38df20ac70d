/**
 * The FirecREST stand-in's checks against the official FirecREST v2 API
 * description, `shared/specs/firecrest-v2-openapi.yaml` (OpenAPI 3.1, 2.5.6):
 * request bodies the spec refuses, and responses the stand-in itself sends.
 *
 * The spec is read from `<repo>/../shared/specs/` (override with the
 * environment variable `GANYMEDE_FIRECREST_SPEC`). When it is absent,
 * `firecrestSpecAvailable` is false, one NOTICE is printed and nothing is
 * validated (every body passes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import ajvFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { repoRoot } from './openapi.js';

/** Where the spec is read from. */
export const firecrestSpecFile = process.env['GANYMEDE_FIRECREST_SPEC'] ?? resolve(repoRoot, '..', 'shared', 'specs', 'firecrest-v2-openapi.yaml');
/** False when the spec file is missing: then nothing is validated. */
export const firecrestSpecAvailable: boolean = existsSync(firecrestSpecFile);

const SPEC_ID = 'https://ganymede.invalid/firecrest-v2-openapi.json';
let noticePrinted = false;
let compiled: Map<string, ValidateFunction> | undefined;
let ajv: InstanceType<typeof Ajv2020Module.default> | undefined;

function noticeOnce(): void {
  if (noticePrinted) return;
  noticePrinted = true;
  process.stderr.write('NOTICE: ../shared/specs/firecrest-v2-openapi.yaml not found; the FirecREST stand-in does not validate against the spec\n');
}

/**
 * Drops the OpenAPI 3.0 keyword `nullable` the generated 3.1 spec still
 * carries next to `anyOf: [..., {type: null}]` (ajv refuses it without
 * `type`); where it stands beside a plain `type`, `null` joins that type.
 */
function withoutNullable(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(withoutNullable);
  if (typeof x !== 'object' || x === null) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) if (k !== 'nullable') out[k] = withoutNullable(v);
  const o = x as Record<string, unknown>;
  if (o['nullable'] === true && typeof o['type'] === 'string') out['type'] = [o['type'], 'null'];
  return out;
}

function validator(schemaName: string): ValidateFunction | undefined {
  if (!firecrestSpecAvailable) {
    noticeOnce();
    return undefined;
  }
  if (ajv === undefined) {
    ajv = new Ajv2020Module.default({ strict: false, allErrors: true });
    ajvFormatsModule.default(ajv);
    ajv.addSchema(withoutNullable(parseYaml(readFileSync(firecrestSpecFile, 'utf8'))) as object, SPEC_ID);
    compiled = new Map();
  }
  let v = compiled!.get(schemaName);
  if (v === undefined) {
    v = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${schemaName}` });
    compiled!.set(schemaName, v);
  }
  return v;
}

function describe(errors: ErrorObject[] | null | undefined, root: string): string {
  return (errors ?? [])
    .map((e) => {
      const where = `${root}${e.instancePath.replaceAll('/', '.')}`;
      if (e.keyword === 'required') return `${where}.${String(e.params['missingProperty'])}: Field required`;
      return `${where}: ${e.message ?? 'invalid'}`;
    })
    .filter((line, i, all) => all.indexOf(line) === i)
    .join('; ');
}

/**
 * Checks a value against a component schema of the spec (e.g.
 * `PostJobSubmitRequest`). Returns undefined when it conforms (or the spec is
 * absent), else one line naming each problem (`body.job.workingDirectory:
 * Field required`).
 */
export function specProblem(schemaName: string, value: unknown, root = 'body'): string | undefined {
  const v = validator(schemaName);
  if (v === undefined || v(value)) return undefined;
  return describe(v.errors, root) || 'does not match the spec';
}

/**
 * The response schema of each operation the stand-in serves, by `METHOD
 * template` and status (`4XX`, `5XX` as the spec writes them); `null` = an
 * empty body. Taken from the spec's `responses` of those operations.
 */
export const RESPONSE_SCHEMAS: Record<string, Record<string, string | null>> = {
  'POST /compute/{system_name}/jobs': { '201': 'PostJobSubmissionResponse' },
  'GET /compute/{system_name}/jobs/{job_id}': { '200': 'GetJobResponse' },
  'DELETE /compute/{system_name}/jobs/{job_id}': { '204': null },
  'GET /compute/{system_name}/jobs/{job_id}/metadata': { '200': 'GetJobMetadataResponse' },
  'GET /status/{system_name}/userinfo': { '200': 'UserInfoResponse' },
  'GET /status/{system_name}/partitions': { '200': 'GetPartitionsResponse' },
  'GET /status/liveness/': { '200': 'GetLiveness' },
};

/**
 * Checks a response the stand-in is about to send. Error statuses (4xx, 5xx)
 * must carry an `ApiResponseError`, except 422 (`HTTPValidationError` shape is
 * replaced by FirecREST's own validation handler, which sends
 * `ApiResponseError` with `errorType: validation` too) and 307 (redirect, no
 * body). Returns a sentence naming the violation, or undefined.
 */
export function responseProblem(operation: string | undefined, status: number, body: unknown): string | undefined {
  if (status === 307) return undefined;
  if (status >= 400) return specProblem('ApiResponseError', body, 'response');
  if (operation === undefined) return `status ${status} for a path the spec does not have`;
  const byStatus = RESPONSE_SCHEMAS[operation];
  if (byStatus === undefined || !(String(status) in byStatus)) return `${operation}: status ${status} is not in the spec`;
  const schema = byStatus[String(status)];
  if (schema === null) return body === undefined ? undefined : `${operation}: ${status} must have no body`;
  return specProblem(schema!, body, 'response');
}
