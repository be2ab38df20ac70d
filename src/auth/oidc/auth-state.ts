import type * as oidc from 'openid-client';

/**
 * What the hub keeps (encrypted) for an OIDC user, handed to spawners as
 * `authState` (the FirecREST spawner sends `access_token` on the user's behalf).
 */
export interface OidcAuthState {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  /** Unix seconds when the access token expires (from `expires_in`), when the provider said. */
  expires_at?: number;
  scope?: string;
  /** Unix seconds when the tokens were received. */
  token_response_time: number;
}

/** The auth state from a token response; tokens the response leaves out (a refresh without a new refresh token) come from `previous`. */
export function authStateFromTokens(tokens: oidc.TokenEndpointResponse, previous?: Partial<OidcAuthState>, now = Date.now()): OidcAuthState {
  const t = Math.floor(now / 1000);
  const refresh = tokens.refresh_token ?? previous?.refresh_token;
  const idToken = tokens.id_token ?? previous?.id_token;
  const scope = tokens.scope ?? previous?.scope;
  return {
    access_token: tokens.access_token,
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(idToken ? { id_token: idToken } : {}),
    ...(typeof tokens.expires_in === 'number' ? { expires_at: t + tokens.expires_in } : {}),
    ...(scope ? { scope } : {}),
    token_response_time: t,
  };
}

/** The auth state read back from the store, or undefined when it is not one of ours. */
export function readAuthState(raw: Record<string, unknown> | null): Partial<OidcAuthState> | undefined {
  if (!raw || typeof raw['access_token'] !== 'string') return undefined;
  const s = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const n = (k: string): number | undefined => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
  const out: Partial<OidcAuthState> = { access_token: raw['access_token'] };
  for (const k of ['refresh_token', 'id_token', 'scope'] as const) {
    const v = s(k);
    if (v !== undefined) out[k] = v;
  }
  const exp = n('expires_at');
  if (exp !== undefined) out.expires_at = exp;
  const trt = n('token_response_time');
  if (trt !== undefined) out.token_response_time = trt;
  return out;
}
