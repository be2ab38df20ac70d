import { Type, type Static, type TObject, type TUnion } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/schema.js';
import type { Authenticator } from './authenticator.js';
import { SharedPasswordAuthenticator } from './shared-password.js';
import { SharedPasswordAuthSchema } from './shared-password-config.js';
import { OidcAuthenticator } from './oidc/oidc-authenticator.js';
import { OidcAuthSchema } from './oidc/schema.js';
import { JwtHeaderAuthenticator } from './jwt-header/jwt-header-authenticator.js';
import { JwtHeaderAuthSchema } from './jwt-header/schema.js';

/** What a backend's constructor gets besides its own options. */
export interface AuthBackendDeps {
  /** The configuration at start; read hub-wide options (`admin_users`) through `liveConfig`. */
  config: Config;
  /** The hub's configuration now (a live reload replaces it). */
  liveConfig: () => Config;
  db: Kysely<DB>;
  log: Logger;
}

/** One backend: its `auth:` options schema (built with `authKindSchema`) and its constructor. */
export interface AuthBackend<S extends TObject = TObject> {
  schema: S;
  create(options: Static<S>, deps: AuthBackendDeps): Authenticator;
}

/** Declares a backend with its options typed from its schema. */
export function authBackend<S extends TObject>(backend: AuthBackend<S>): AuthBackend<S> {
  return backend;
}

/**
 * Every authenticator, by `auth.kind`. A new backend is one entry here; its
 * schema lives next to it (`src/auth/<kind>/schema.ts` or `<kind>-config.ts`)
 * and `config.auth` accepts it from then on (docs and template included).
 * The first entry is the default kind.
 */
export const AUTH_BACKENDS = {
  'shared-password': authBackend<typeof SharedPasswordAuthSchema>({
    schema: SharedPasswordAuthSchema,
    create: (a, deps): Authenticator => createSharedPassword(a, deps),
  }),
  oidc: authBackend<typeof OidcAuthSchema>({ schema: OidcAuthSchema, create: (a, deps) => new OidcAuthenticator(a, deps.log) }),
  'jwt-header': authBackend<typeof JwtHeaderAuthSchema>({
    schema: JwtHeaderAuthSchema,
    create: (a, deps): Authenticator =>
      new JwtHeaderAuthenticator({
        header: a.header,
        oidcServer: a.oidc_server,
        audience: a.jwt_audience,
        leewaySec: a.jwt_leeway,
        platform: a.platform,
        logoutRedirectUrl: a.logout_redirect_url,
        invalidJwtLogout: a.invalid_jwt_logout,
        log: deps.log,
      }),
  }),
};

function createSharedPassword(a: Static<typeof SharedPasswordAuthSchema>, deps: AuthBackendDeps): Authenticator {
  return new SharedPasswordAuthenticator({
    db: deps.db,
    log: deps.log,
    password: a.shared_password ?? process.env['GANYMEDE_SHARED_PASSWORD'],
    adminPassword: a.admin_password,
    adminUsers: () => deps.liveConfig().admin_users.map((u) => u.toLowerCase()),
    devUsers: a.dev_users,
  });
}

type AuthSchemas = (typeof AUTH_BACKENDS)[keyof typeof AUTH_BACKENDS]['schema'];

/** `config.auth`: the union of every backend's schema. */
export const AuthConfigSchema = Type.Union(
  Object.values(AUTH_BACKENDS).map((b) => b.schema),
  { default: { kind: 'shared-password' }, description: 'The authenticator (`kind`) and its options.' },
) as unknown as TUnion<AuthSchemas[]>;

/** Builds the authenticator named by `auth.kind`; `liveConfig` gives the hub's configuration at each use (default: `config`). */
export function createAuthenticator(config: Config, db: Kysely<DB>, log: Logger, liveConfig: () => Config = () => config): Authenticator {
  const backend = (AUTH_BACKENDS as Record<string, AuthBackend>)[config.auth.kind];
  if (!backend) throw new Error(`unknown auth.kind ${JSON.stringify(config.auth.kind)}`);
  return backend.create(config.auth, { config, liveConfig, db, log });
}
