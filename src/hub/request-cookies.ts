/**
 * Cookies on the hub's requests and answers, with no per-request hook.
 *
 * @fastify/cookie parses the Cookie header of every request in an onRequest
 * hook and writes Set-Cookie in an onSend hook. Two hooks on every route cost
 * an API read about a fifth of its throughput, while almost no request sets a
 * cookie and API calls with a token never read one. This keeps that plugin's
 * request and reply API (`req.cookies`, `req.signCookie`, `req.unsignCookie`,
 * `reply.setCookie`, `reply.clearCookie`, with its types and its signer) and
 * the `cookie` package it parses and serializes with, but parses a request's
 * cookies on first read and writes Set-Cookie when a cookie is set.
 *
 * As with the plugin, setting a cookie again (same name, domain and path)
 * in one answer replaces the earlier value, and `sameSite` defaults to `lax`.
 */
import type { CookieSerializeOptions, UnsignResult } from '@fastify/cookie';
import { signerFactory } from '@fastify/cookie';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const PARSED = Symbol('ganymede.cookies');
const SET = Symbol('ganymede.setCookies');

type WithCookies = FastifyRequest & { [PARSED]: Record<string, string | undefined> | null };
type WithSetCookies = FastifyReply & { [SET]: Map<string, string> | null };

/** What one Set-Cookie header value says (`name=value; Path=…; …`). */
export function serializeSetCookie(name: string, value: string, opts: CookieSerializeOptions): string {
  // `signed` says how the value was made, not an attribute
  const { encode, ...attributes } = opts;
  delete attributes.signed;
  return stringifySetCookie({ name, value, ...attributes, secure: attributes.secure === true }, { encode });
}

/** Decorates `app` (at its root, for every route) with the cookie API; `secret` signs and checks signed cookies. */
export function installCookies(app: FastifyInstance, secret: string): void {
  const signer = signerFactory(secret, 'sha256');
  app.decorateRequest(PARSED, null);
  app.decorateReply(SET, null);
  app.decorateRequest('cookies', {
    getter(this: FastifyRequest) {
      const r = this as WithCookies;
      if (r[PARSED] === null) {
        const header = this.raw.headers.cookie;
        r[PARSED] = header ? parseCookie(header) : {};
      }
      return r[PARSED];
    },
  });
  const sign = (value: string): string => signer.sign(value);
  const unsign = (value: string): UnsignResult => signer.unsign(value);
  app.decorateRequest('signCookie', sign);
  app.decorateRequest('unsignCookie', unsign);
  app.decorateReply('signCookie', sign);
  app.decorateReply('unsignCookie', unsign);

  function setCookie(this: FastifyReply, name: string, value: string, options?: CookieSerializeOptions): FastifyReply {
    const opts: CookieSerializeOptions = { sameSite: 'lax', ...options };
    if (opts.secure === 'auto') opts.secure = this.request.protocol === 'https';
    const r = this as WithSetCookies;
    r[SET] ??= new Map();
    r[SET].set(`${name};${opts.domain};${opts.path || '/'}`, serializeSetCookie(name, opts.signed ? sign(value) : value, opts));
    // written now: no hook writes it later
    this.removeHeader('set-cookie');
    this.header('set-cookie', [...r[SET].values()]);
    return this;
  }
  app.decorateReply('setCookie', setCookie);
  app.decorateReply('cookie', setCookie);
  app.decorateReply('clearCookie', function clearCookie(this: FastifyReply, name: string, options?: CookieSerializeOptions): FastifyReply {
    return setCookie.call(this, name, '', { path: '/', ...options, expires: new Date(0), maxAge: 0, signed: false });
  });
}
