import { Type, type Static } from '@sinclair/typebox';

/**
 * The options of `auth.kind: oidc`, named as JupyterHub's OAuthenticator
 * (GenericOAuthenticator) names them so a site can carry its values over.
 * The options every backend shares (allowed_groups, admin_groups,
 * manage_groups, auth_refresh_age, refresh_pre_spawn, enable_auth_state,
 * logout_redirect_url) come from the common auth schema and are not repeated here.
 */
export const OidcOwnOptions = {
  kind: Type.Literal('oidc', { description: 'Which authenticator logs users in.' }),
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
      format: 'uri',
      description:
        "The provider's issuer URL (e.g. `https://keycloak.example.org/realms/hpc`): endpoints and keys come from its `/.well-known/openid-configuration`, and ID tokens must name it as `iss`. Give either this or `authorize_url` + `token_url`; with explicit endpoints and scope `openid`, `issuer` is still required (the ID token's expected `iss`) but not used for discovery.",
    }),
  ),
  authorize_url: Type.Optional(Type.String({ format: 'uri', description: 'Explicit endpoints (no discovery): the authorization endpoint.' })),
  token_url: Type.Optional(Type.String({ format: 'uri', description: 'Explicit endpoints: the token endpoint.' })),
  jwks_url: Type.Optional(
    Type.String({
      format: 'uri',
      description:
        "Explicit endpoints: the provider's key set (JWKS). With it, ID token signatures are checked; without it, an ID token's claims (issuer, audience, expiry, nonce) are still checked and its signature is trusted to the TLS connection to `token_url`.",
    }),
  ),
  userdata_url: Type.Optional(
    Type.String({ format: 'uri', description: "Explicit endpoints: where the user's claims are read with the access token (the userinfo endpoint)." }),
  ),
  userdata_method: Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'GET', description: 'Explicit endpoints: the HTTP method for `userdata_url`.' }),
  userdata_params: Type.Record(Type.String(), Type.String(), {
    default: {},
    description: 'Explicit endpoints: extra parameters sent to `userdata_url` (query string for GET, form body for POST).',
  }),
  end_session_url: Type.Optional(
    Type.String({
      format: 'uri',
      description: "The provider's RP-initiated logout endpoint, when discovery does not give `end_session_endpoint` or endpoints are explicit.",
    }),
  ),
  oauth_callback_url: Type.Optional(
    Type.String({
      format: 'uri',
      description:
        "The URL the provider sends the browser back to; it must be registered at the provider. Default: `<public URL of the hub>/hub/oauth_callback`, the public URL being the request's origin as the hub sees it (forwarded headers trusted only from `trusted_downstream_ips`).",
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
    description: 'The claim holding the user\'s groups (a list of strings, used by `allowed_groups`, `admin_groups` and `manage_groups`).',
  }),
  strip_group_path: Type.Boolean({
    default: false,
    description: "Keycloak gives groups as paths (`/hpc/admins`): keep only the last segment (`admins`). Without it the full path is the group name.",
  }),
  groups_map: Type.Record(Type.String(), Type.String(), {
    default: {},
    description:
      'Renames groups from the claim (after `strip_group_path`) to hub group names, e.g. `{"/platform/admins": "admins"}`. Groups not listed keep their name.',
  }),
  login_service: Type.String({ minLength: 1, default: 'OpenID Connect', description: 'The name on the login button ("Sign in with …").' }),
  end_session: Type.Boolean({
    default: true,
    description:
      "On logout, also end the provider's session (RP-initiated logout) when it has an end-session endpoint; the browser comes back to `logout_redirect_url` (or the hub's login page), which must be registered at the provider as a post-logout redirect URI.",
  }),
  http_timeout: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'Seconds to wait for the provider on each request (discovery, token, userinfo, keys).' }),
  allow_insecure_http: Type.Boolean({
    default: false,
    description: 'Allow `http://` provider URLs. Only for a provider on the same machine in development or tests: tokens would travel unencrypted.',
  }),
};

/** The OIDC options alone (without the common auth options); used to type the backend. */
export const OidcOwnSchema = Type.Object(OidcOwnOptions, { additionalProperties: false });
export type OidcOwnConfig = Static<typeof OidcOwnSchema>;
