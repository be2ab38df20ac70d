/**
 * What a `Connection` header may not do. RFC 9110 §7.6.1 lets a proxy remove
 * the headers a `Connection` list names, on requests and on answers alike; but
 * the proxy frames what it forwards from these headers and routes by `Host`,
 * so a list naming them must not make it forward a body without its framing
 * (the next hop would read the body as a new message: request smuggling).
 */

/**
 * Header names (lower case) a `Connection` list never removes: the token is
 * ignored and the header kept, on requests (`forward.ts`) and on the targets'
 * answers (`response-head.ts`). Headers the proxy adds itself
 * (`X-Forwarded-*`, `--custom-header`) are never removed either.
 */
export const CONNECTION_PROTECTED: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host', 'upgrade']);
