/**
 * The environment of a server's pod (pure): which variables the container
 * gets inline and which travel through the server's Secret.
 */
import { isSecretEnvName } from '../../lib/secret-env-name.js';
import { expandNameTemplate, type NameVariables } from './kube-names.js';

/**
 * The hub host's own variables (JupyterHub's `env_keep`): meaningless inside a
 * container image, so the pod does not inherit them from the hub's environment
 * (the back-end's `environment` may still set them).
 */
const HOST_ONLY = new Set(['PATH', 'PYTHONPATH', 'CONDA_ROOT', 'CONDA_DEFAULT_ENV', 'VIRTUAL_ENV', 'HOME', 'SHELL']);

/** A pod's environment, split. */
export interface PodEnvironment {
  /** In the container spec as values. */
  plain: Record<string, string>;
  /** In the server's Secret, referenced from the container by `secretKeyRef`. */
  secret: Record<string, string>;
}

/** What the environment is made from. */
export interface PodEnvironmentInput {
  /** The server's environment from the hub. */
  hubEnv: Record<string, string>;
  /** The back-end's `environment` (templates in values). */
  environment: Record<string, string>;
  vars: NameVariables;
  image: string;
  port: number;
  defaultUrl: string;
}

/**
 * The variables of the server's container: the back-end's `environment`
 * (`{username}`, `{servername}`, `{user_server}` replaced by slugs), then the
 * hub's (which win: a profile cannot replace the API token), without the hub
 * host's own PATH/HOME/...; then `JUPYTER_IMAGE` and `JUPYTER_IMAGE_SPEC`,
 * `JUPYTERHUB_DEFAULT_URL` when `default_url` is set, and
 * `JUPYTERHUB_SERVICE_URL` (`http://0.0.0.0:<port><prefix>`) when the hub did not give one.
 */
export function podEnvironment(i: PodEnvironmentInput): PodEnvironment {
  const all: Record<string, string> = {};
  for (const [name, value] of Object.entries(i.environment)) all[name] = expandNameTemplate(value, i.vars);
  for (const [name, value] of Object.entries(i.hubEnv)) {
    if (!HOST_ONLY.has(name)) all[name] = value;
  }
  all['JUPYTER_IMAGE'] = i.image;
  all['JUPYTER_IMAGE_SPEC'] = i.image;
  if (i.defaultUrl !== '') all['JUPYTERHUB_DEFAULT_URL'] = i.defaultUrl;
  const prefix = all['JUPYTERHUB_SERVICE_PREFIX'];
  if (all['JUPYTERHUB_SERVICE_URL'] === undefined && prefix !== undefined) all['JUPYTERHUB_SERVICE_URL'] = `http://0.0.0.0:${i.port}${prefix}`;
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const [name, value] of Object.entries(all)) {
    if (isSecretEnvName(name)) secret[name] = value;
    else plain[name] = value;
  }
  return { plain, secret };
}
