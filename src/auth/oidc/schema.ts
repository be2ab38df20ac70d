import { Type, type Static } from '@sinclair/typebox';
import { authKindSchema } from '../common-options.js';
import { ConfigError } from '../../lib/errors.js';

/**
 * The options of `auth.kind: oidc`, named as JupyterHub's OAuthenticator
 * (GenericOAuthenticator) names them so a site can carry its values over.
 * The options every backend shares (allowed_groups, admin_groups,
 * manage_groups, auth_refresh_age, refresh_pre_spawn, enable_auth_state,
 * logout_redirect_url) come from the common auth schema and are not repeated here.
 */
export const OidcOwnOptions = {
  client_id: Type.String({ minLength: 1, description: 'The client id the hub is registered with at the identity provider.' }),
  client_secret: Type.Optional(
    Type.String({ minLength: 1, description: 'The client secret. Prefer `client_secret_file`; with neither, the hub is a public client (PKCE only).' }),
  ),
  client_secret_file: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'A file holding the client secret (surrounding whitespace ignored), e.g. mounted from a Kubernetes Secret. Read again when its modification time changes, so a rotated secret is used without a restart.',
    }),
  ),
  issuer: Type.Optional(
    Type.String({
      description:
        "The provider's issuer URL (e.g. `https://keycloak.example.org/realms/hpc`): endpoints and keys come from its `/.well-known/openid-configuration`, and ID tokens must name it as `iss`. Give either this or `authorize_url` + `token_url`; with explicit endpoints and scope `openid`, `issuer` is still required (the ID token's expected `iss`) but not used for discovery.",
    }),
  ),
  authorize_url: Type.Optional(Type.String({ description: 'Explicit endpoints (no discovery): the authorization endpoint.' })),
  token_url: Type.Optional(Type.String({ description: 'Explicit endpoints: the token endpoint.' })),
  jwks_url: Type.Optional(
    Type.String({
      description:
        "Explicit endpoints: the provider's key set (JWKS). With it, ID token signatures are checked; without it, an ID token's claims (issuer, audience, expiry, nonce) are still checked and its signature is trusted to the TLS connection to `token_url`.",
    }),
  ),
  userdata_url: Type.Optional(
    Type.String({ description: "Explicit endpoints: where the user's claims are read with the access token (the userinfo endpoint)." }),
  ),
  userdata_method: Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'GET', description: 'Explicit endpoints: the HTTP method for `userdata_url`.' }),
  userdata_params: Type.Record(Type.String(), Type.String(), {
    default: {},
    description: 'Explicit endpoints: extra parameters sent to `userdata_url` (query string for GET, form body for POST).',
  }),
  userdata_from_id_token: Type.Boolean({
    default: false,
    description:
      "Read the user's claims (name, groups) from the ID token only and never call the userinfo endpoint (neither `userdata_url`, which is then unused, nor the discovered one). For providers whose access tokens are meant for another resource server (e.g. JWT access tokens for FirecREST), which their userinfo endpoint may refuse. Needs scope `openid`; a refresh whose answer has no ID token keeps the claims of the last one.",
  }),
  end_session_url: Type.Optional(
    Type.String({
      description: "The provider's RP-initiated logout endpoint, when discovery does not give `end_session_endpoint` or endpoints are explicit.",
    }),
  ),
  oauth_callback_url: Type.Optional(
    Type.String({
      description:
        "The URL the provider sends the browser back to: the hub's `oauth_callback` as reached from outside, registered at the provider. Default: `<public URL of the hub>/hub/oauth_callback`, the public URL being the request's origin as the hub sees it (forwarded headers trusted only from `trusted_downstream_ips`).",
    }),
  ),
  scope: Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), {
    default: ['openid', 'profile', 'email'],
    description: 'The scopes requested. `openid` makes it an OpenID Connect login (an ID token is then required and checked).',
  }),
  username_claim: Type.String({
    minLength: 1,
    default: 'preferred_username',
    description: 'The claim whose value is the hub user name (`sub` for eduTEAMS, whose preferred_username is not unique).',
  }),
  claim_groups_key: Type.String({
    minLength: 1,
    default: 'groups',
    description:
      "The claim holding the user's groups (a list of strings, used by `allowed_groups`, `admin_groups` and `manage_groups`). Periods name a nested claim, as in OAuthenticator: `realm_access.roles` for Keycloak's realm roles (a claim whose own name has periods is found first).",
  }),
  strip_group_path: Type.Boolean({
    default: false,
    description: "Keycloak gives groups as paths (`/hpc/admins`): keep only the last segment (`admins`). Without it the full path is the group name.",
  }),
  groups_map: Type.Record(Type.String(), Type.String(), {
    default: {},
    description:
      'Renames groups from the claim to hub group names, e.g. `{"/platform/admins": "admins"}`. A key is matched against the group as the claim gives it, then against its last segment when `strip_group_path` is on. Groups not listed keep their name.',
  }),
  login_service: Type.String({ minLength: 1, default: 'OpenID Connect', description: 'The name on the login button ("Sign in with …").' }),
  end_session: Type.Boolean({
    default: true,
    description:
      "On logout, also end the provider's session (RP-initiated logout) when it has an end-session endpoint; the hub sends `id_token_hint` and, when `logout_redirect_url` is set, that URL as `post_logout_redirect_uri` (register it at the provider); without it the provider shows its own signed-out page.",
  }),
  http_timeout: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'Seconds to wait for the provider on each request (discovery, token, userinfo, keys).' }),
  allow_insecure_http: Type.Boolean({
    default: false,
    description: 'Allow `http://` provider URLs. Only for a provider on the same machine in development or tests: tokens would travel unencrypted.',
  }),
};

/** `auth:` with `kind: oidc`: the options above and the common auth options. */
export const OidcAuthSchema = authKindSchema('oidc', OidcOwnOptions, 'OpenID Connect / OAuth 2 login (Keycloak, eduTEAMS): `auth.kind: oidc`.');
export type OidcAuthConfig = Static<typeof OidcAuthSchema>;

/**
 * The rules between options a schema cannot say; throws a ConfigError naming
 * the option. Called when the authenticator is built, so the hub does not start
 * with a configuration that could never log anyone in.
 */
export function checkOidcOptions(o: OidcAuthConfig): void {
  const bad = (msg: string): never => {
    throw new ConfigError(`auth (kind oidc): ${msg}`);
  };
  if (!o.issuer && !o.authorize_url) bad('give `issuer` (discovery) or `authorize_url` and `token_url` (explicit endpoints)');
  if (o.authorize_url && !o.token_url) bad('`authorize_url` needs `token_url`');
  if (!o.authorize_url && (o.token_url || o.userdata_url || o.jwks_url)) bad('`token_url`, `userdata_url` and `jwks_url` need `authorize_url` (explicit endpoints); with discovery they come from `issuer`');
  if (o.authorize_url && o.scope.includes('openid') && !o.issuer) bad('explicit endpoints with scope `openid` need `issuer`: the `iss` the ID token must carry');
  if (o.authorize_url && !o.scope.includes('openid') && !o.userdata_url) bad('explicit endpoints without scope `openid` need `userdata_url`: without an ID token the user is read from it');
  if (o.userdata_from_id_token && !o.scope.includes('openid')) bad('`userdata_from_id_token` needs scope `openid`: without an ID token there are no claims to read');
  if (o.client_secret && o.client_secret_file) bad('give `client_secret` or `client_secret_file`, not both');
  const urls = { issuer: o.issuer, authorize_url: o.authorize_url, token_url: o.token_url, userdata_url: o.userdata_url, jwks_url: o.jwks_url, end_session_url: o.end_session_url };
  if (o.oauth_callback_url !== undefined) {
    try {
      new URL(o.oauth_callback_url);
    } catch {
      bad(`\`oauth_callback_url\` is not a URL: ${JSON.stringify(o.oauth_callback_url)}`);
    }
  }
  for (const [k, v] of Object.entries(urls)) {
    if (v === undefined) continue;
    let proto: string;
    try {
      proto = new URL(v).protocol;
    } catch {
      return bad(`\`${k}\` is not a URL: ${JSON.stringify(v)}`);
    }
    if (proto !== 'https:' && !(proto === 'http:' && o.allow_insecure_http)) bad(`\`${k}\` must be an https URL (http only with \`allow_insecure_http\`, for a provider in development)`);
  }
}
