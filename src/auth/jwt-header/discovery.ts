/**
 * What the JWT-header login needs from the identity provider's OpenID
 * discovery document (`<oidc_server>/.well-known/openid-configuration`,
 * OpenID Connect Discovery 1.0 §4): where its signing keys are (`jwks_uri`)
 * and which algorithms sign its ID tokens (`id_token_signing_alg_values_supported`).
 */

/** The identity provider could not be asked (unreachable, timeout, not a usable discovery document). */
export class ProviderUnavailableError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ProviderUnavailableError';
  }
}

/** The parts of a discovery document the JWT-header login uses. */
export interface ProviderMetadata {
  jwksUri: URL;
  /** The provider's ID-token algorithms the hub accepts: never `none`, never a shared-secret (HS*) one. */
  algorithms: string[];
}

/** Discovery documents are a few kilobytes; anything much larger is refused. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The discovery URL of an issuer: `<issuer>/.well-known/openid-configuration` (one slash between). */
export function discoveryUrl(oidcServer: string): URL {
  return new URL(`${oidcServer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
}

/**
 * The algorithms of `advertised` the hub verifies ID tokens with. `none` is
 * never accepted, nor HMAC (`HS256`…): those are signed with a secret shared
 * with the provider (a client secret), which a public key set cannot hold,
 * and accepting them invites the "public key as HMAC secret" confusion.
 */
export function acceptedAlgorithms(advertised: readonly string[]): string[] {
  return [...new Set(advertised.filter((a) => a !== 'none' && !/^HS/i.test(a)))];
}

/**
 * Fetches and checks the discovery document of `oidcServer` within `timeoutMs`.
 * An `https` provider must give an `https` `jwks_uri`.
 * @throws ProviderUnavailableError naming what failed.
 */
export async function fetchProviderMetadata(oidcServer: string, opts: { timeoutMs: number }): Promise<ProviderMetadata> {
  const url = discoveryUrl(oidcServer);
  let doc: unknown;
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ProviderUnavailableError(`the identity provider's discovery document ${url.href} answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > MAX_DOCUMENT_BYTES) {
      await res.body?.cancel();
      throw new ProviderUnavailableError(`the identity provider's discovery document ${url.href} is too large`);
    }
    const text = await res.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new ProviderUnavailableError(`the identity provider's discovery document ${url.href} is too large`);
    doc = JSON.parse(text) as unknown;
  } catch (err) {
    if (err instanceof ProviderUnavailableError) throw err;
    const why = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? `did not answer within ${opts.timeoutMs} ms` : err instanceof SyntaxError ? 'is not JSON' : 'could not be fetched';
    throw new ProviderUnavailableError(`the identity provider's discovery document ${url.href} ${why}`, { cause: err });
  }
  return parseProviderMetadata(doc, oidcServer, url);
}

/**
 * Checks a decoded discovery document and keeps what the login needs.
 * @throws ProviderUnavailableError naming the missing or bad field.
 */
export function parseProviderMetadata(doc: unknown, oidcServer: string, from: URL): ProviderMetadata {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ProviderUnavailableError(`the discovery document ${from.href} is not a JSON object`);
  const d = doc as Record<string, unknown>;
  const rawJwks = d['jwks_uri'];
  if (typeof rawJwks !== 'string') throw new ProviderUnavailableError(`the discovery document ${from.href} has no jwks_uri`);
  let jwksUri: URL;
  try {
    jwksUri = new URL(rawJwks);
  } catch {
    throw new ProviderUnavailableError(`the discovery document ${from.href} has a jwks_uri that is not a URL`);
  }
  const secure = new URL(oidcServer).protocol === 'https:';
  if (jwksUri.protocol !== 'https:' && (secure || jwksUri.protocol !== 'http:')) {
    throw new ProviderUnavailableError(`the discovery document ${from.href} has a jwks_uri that is not ${secure ? 'https' : 'http(s)'}: ${jwksUri.protocol}`);
  }
  const algs = d['id_token_signing_alg_values_supported'];
  if (!Array.isArray(algs) || !algs.every((a): a is string => typeof a === 'string')) {
    throw new ProviderUnavailableError(`the discovery document ${from.href} has no list id_token_signing_alg_values_supported`);
  }
  const algorithms = acceptedAlgorithms(algs);
  if (algorithms.length === 0) {
    throw new ProviderUnavailableError(`the identity provider signs ID tokens only with algorithms the hub refuses (${algs.join(', ') || 'none listed'})`);
  }
  return { jwksUri, algorithms };
}
