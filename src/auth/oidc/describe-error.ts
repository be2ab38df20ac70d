import * as oidc from 'openid-client';
import { outsideText } from '../../lib/outside-text.js';

/** Longest provider-supplied text shown to the user. */
const MAX_PROVIDER_TEXT = 200;

function clip(s: string): string {
  return outsideText(s, MAX_PROVIDER_TEXT);
}

/**
 * Whether an error from openid-client means the provider could not be
 * reached (connection refused, DNS, timeout) rather than a refusal.
 */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof oidc.ClientError && (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT')) return true;
  if (err instanceof TypeError && err.message === 'fetch failed') return true;
  if (err instanceof oidc.ClientError && err.cause instanceof TypeError) return err.cause.message === 'fetch failed';
  return false;
}

/**
 * A sentence naming what went wrong in an exchange with the provider, fit for
 * the user's page: the provider's OAuth error code and description, or which
 * check of openid-client failed (e.g. the ID token's `nonce`, `iss` or `aud`).
 */
export function describeOidcError(err: unknown): string {
  if (isUnreachable(err)) return 'the identity provider could not be reached';
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    const desc = err.error_description ? ` (${clip(err.error_description)})` : '';
    return `the identity provider answered ${clip(err.error)}${desc}`;
  }
  if (err instanceof oidc.ClientError) {
    const inner = err.cause instanceof Error && err.cause.message !== err.message ? `: ${err.cause.message}` : '';
    return clip(`${err.message}${inner}`);
  }
  if (err instanceof Error) return clip(err.message);
  return 'unknown error';
}
