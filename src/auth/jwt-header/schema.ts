import { Type } from '@sinclair/typebox';
import { authKindSchema } from '../common-options.js';

/** An HTTP header name (RFC 9110 §5.1 token). */
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

/**
 * The options of the JWT-header login (`auth.kind: jwt-header`), the BriCS
 * login: an authenticating tunnel in front of the hub forwards every request
 * with the user's OIDC ID token in a header. Names follow the BriCS
 * authenticator's (`brics_platform` is `platform` here). The common
 * `logout_redirect_url` is the tunnel's sign-out URL.
 */
export const JwtHeaderAuthSchema = authKindSchema(
  'jwt-header',
  {
    header: Type.String({
      pattern: HEADER_NAME,
      default: 'X-Auth-Id-Token',
      description:
        'The request header that carries the ID token (a compact JWT) from the authenticating tunnel. A request to the login page without it gets 401 naming the header. The token is verified, so a request that bypasses the tunnel cannot forge one, but a leaked token logs its user in until it expires: let only the tunnel reach the hub.',
    }),
    oidc_server: Type.String({
      pattern: '^https?://[^\\s]+$',
      description:
        "The identity provider's issuer URL, exactly as it appears in the tokens' `iss` claim (tokens from any other issuer are refused). Its discovery document `<oidc_server>/.well-known/openid-configuration` gives the key set (`jwks_uri`) and the signing algorithms (`id_token_signing_alg_values_supported`). Must be `https`, except on a loopback address.",
    }),
    jwt_audience: Type.String({ minLength: 1, description: 'The audience the tokens must be issued for (their `aud` claim must hold it): the tunnel\'s OIDC client id.' }),
    jwt_leeway: Type.Number({ minimum: 0, maximum: 300, default: 5, description: 'Seconds of clock skew allowed on the tokens\' time claims (`exp`, `iat`, `nbf`).' }),
    platform: Type.String({
      minLength: 1,
      description:
        "The platform this hub serves (BriCS's `brics_platform`, e.g. `brics.aip1.notebooks`): only the `projects` with a resource of this name are kept in the user's auth state, as `{project_id: {name, username}}`. A user with no project here is refused (403).",
    }),
    invalid_jwt_logout: Type.Boolean({
      default: false,
      description:
        "When the login page gets an invalid token (expired, wrong audience, bad signature…) while the browser still has a hub session, log that session out (redirect to the hub's logout, then `logout_redirect_url`) instead of showing the error. Needs the identity provider to prompt for a new login, or the browser loops.",
    }),
  },
  'The BriCS login: the user\'s OIDC ID token in a request header from an authenticating tunnel (docs/authentication.md).',
);
