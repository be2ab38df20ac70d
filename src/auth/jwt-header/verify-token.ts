import { errors, jwtVerify, type JWTPayload } from 'jose';
import { ProviderUnavailableError } from './discovery.js';
import type { VerificationKeys } from './provider-keys.js';

/** Why a token was refused; stable labels for logs and tests. */
export type TokenFailure =
  | 'malformed'
  | 'algorithm'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'bad_claim';

/** A token that is not valid; `message` names the reason for the user. */
export class TokenError extends Error {
  constructor(
    readonly reason: TokenFailure,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'TokenError';
  }
}

/** The claims every BriCS ID token must have (as the BriCS authenticator requires). */
export const REQUIRED_CLAIMS = ['aud', 'exp', 'iss', 'iat', 'short_name', 'projects'] as const;

/** What a token is checked against. */
export interface TokenExpectations {
  issuer: string;
  audience: string;
  /** Leeway on `exp`, `nbf` and `iat`, in seconds. */
  leewaySec: number;
}

/**
 * Verifies a compact JWS ID token: the signature with the provider's key
 * (chosen by `kid`) and only its accepted algorithms, `iss` equal to the
 * issuer, `aud` holding the audience, `exp`/`nbf`/`iat` within the leeway,
 * and every REQUIRED_CLAIMS present.
 * @returns the claims.
 * @throws TokenError naming what is wrong with the token.
 * @throws ProviderUnavailableError when the provider's key set could not be fetched.
 */
export async function verifyIdToken(token: string, keys: VerificationKeys, expect: TokenExpectations): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.keys, {
      algorithms: keys.algorithms,
      issuer: expect.issuer,
      audience: expect.audience,
      clockTolerance: expect.leewaySec,
      requiredClaims: [...REQUIRED_CLAIMS],
    }));
  } catch (err) {
    throw translate(err, keys.algorithms);
  }
  // jose checks `iat` against the clock only with maxTokenAge: a token issued in the future is refused here
  const iat = payload.iat as number;
  if (iat > Date.now() / 1000 + expect.leewaySec) throw new TokenError('not_yet_valid', 'the token is issued in the future (iat); check the clocks');
  return payload;
}

function translate(err: unknown, algorithms: readonly string[]): Error {
  if (err instanceof errors.JWTExpired) return new TokenError('expired', 'the token has expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new TokenError('missing_claim', `the token has no ${err.claim} claim`, { cause: err });
    switch (err.claim) {
      case 'iss':
        return new TokenError('wrong_issuer', 'the token was issued by another identity provider (iss)', { cause: err });
      case 'aud':
        return new TokenError('wrong_audience', 'the token is meant for another audience (aud)', { cause: err });
      case 'nbf':
        return new TokenError('not_yet_valid', 'the token is not valid yet (nbf)', { cause: err });
      default:
        return new TokenError('bad_claim', `the token's ${err.claim} claim is invalid`, { cause: err });
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new TokenError('algorithm', `the token's signing algorithm is not allowed (the provider's: ${algorithms.join(', ')})`, { cause: err });
  }
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenError('unknown_key', "the token is signed with a key the identity provider does not publish (kid)", { cause: err });
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new TokenError('unknown_key', 'the token names no key (kid) and the identity provider has several', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('bad_signature', "the token's signature is not valid", { cause: err });
  if (err instanceof errors.JWKSTimeout) return new ProviderUnavailableError("the identity provider's key set did not answer in time", { cause: err });
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) return new ProviderUnavailableError("the identity provider's key set is not valid", { cause: err });
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new TokenError('malformed', 'the token is not a valid signed JWT', { cause: err });
  }
  // jose's key-set fetch: a non-200 answer (generic JOSEError) or a network error (fetch's TypeError)
  if (err instanceof errors.JOSEError || err instanceof TypeError) return new ProviderUnavailableError("the identity provider's key set could not be fetched", { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
