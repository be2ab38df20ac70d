/**
 * Which environment variables of a server hold secrets: they never go
 * inline into a job's or a pod's description (the back-ends move them into
 * a Secret or an encoded script). Pure; shared by every back-end.
 */

/** Names that hold secrets whatever their value. */
const SECRET_NAMES = new Set(['JUPYTERHUB_API_TOKEN', 'JPY_API_TOKEN', 'JUPYTERHUB_CRYPT_KEY', 'CONFIGPROXY_AUTH_TOKEN']);
/** Parts of names that look like secrets: treated as secrets too. */
const SECRET_PART = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL/i;

/** Whether variable `name` holds a secret (the API token, the crypt key, anything named *TOKEN*, *SECRET*, *KEY*, *PASSWORD*, *CREDENTIAL*). */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAMES.has(name) || SECRET_PART.test(name);
}
