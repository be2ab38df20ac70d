import { Type, type TProperties } from '@sinclair/typebox';
import { LoginRateLimitSchema } from './login-rate-limit-config.js';

/**
 * The auth options every backend has, under `auth:` next to the backend's
 * own (src/auth/registry.ts composes them into each backend's schema). The
 * hub applies them to every backend alike (src/auth/policy.ts,
 * src/auth/auth-state.ts, src/auth/refresh.ts).
 */
export const CommonAuthOptions = Type.Object({
  allowed_groups: Type.Array(Type.String(), {
    default: [],
    description:
      'Only members of one of these groups (from the login, e.g. an OIDC groups claim) may log in; others get a page saying so. Empty: no group needed. `allowed_users` and `admin_users` are let in too.',
  }),
  admin_groups: Type.Array(Type.String(), {
    default: [],
    description:
      'Members of one of these groups are made admin at login and at every refresh, and lose admin when they leave them (unless in `admin_users`). Empty: groups do not decide admin.',
  }),
  manage_groups: Type.Boolean({
    default: false,
    description:
      "Make the user's hub groups those of the login at each login and refresh: missing groups are created, the user is added to and removed from groups to match. A group name the name rules refuse is skipped (logged).",
  }),
  auth_refresh_age: Type.Number({
    minimum: 0,
    default: 300,
    description:
      "Seconds after which a request with the user's login cookie asks the authenticator to refresh the user's credentials (auth state, groups, admin). A failed refresh ends the session (\"please log in again\"). 0: never by age.",
  }),
  refresh_pre_spawn: Type.Boolean({
    default: false,
    description:
      "Refresh the user's credentials before every spawn (e.g. an expired access token), so the server gets current ones; a failed refresh refuses the spawn (401) and ends the session.",
  }),
  enable_auth_state: Type.Boolean({
    default: false,
    description:
      "Keep the login's auth state (tokens, projects) with the user, encrypted with GANYMEDE_CRYPT_KEY, and hand it to the spawner and to `pre_spawn_hook`. The hub refuses to start when this (or a backend that needs auth state) is on and GANYMEDE_CRYPT_KEY is not set.",
  }),
  logout_redirect_url: Type.String({
    default: '',
    description:
      "Where the browser goes after logout when the backend names no URL of its own (e.g. an identity provider's sign-out page). Empty: the login page.",
  }),
  login_rate_limit: LoginRateLimitSchema,
});

/**
 * A backend's `auth:` schema: `kind`, its own options and the common ones
 * ({@link CommonAuthOptions}), with unknown keys refused.
 */
export function authKindSchema<K extends string, P extends TProperties>(kind: K, properties: P, description?: string) {
  const props = {
    kind: Type.Literal(kind, { default: kind, description: 'Which authenticator logs users in.' }),
    ...properties,
    ...CommonAuthOptions.properties,
  };
  return Type.Object(props, { additionalProperties: false, ...(description === undefined ? {} : { description }) });
}
