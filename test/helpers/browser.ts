/**
 * A tiny browser for tests of the hub's pages: keeps cookies by name (paths
 * ignored), follows no redirects, reads `_xsrf` from forms, and logs in
 * through the login form.
 */
import assert from 'node:assert/strict';

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async get(path: string): Promise<Response> {
    return this.request('GET', path);
  }

  /** Posts a url-encoded form (repeated keys as arrays). */
  async post(path: string, form: Record<string, string | string[]>): Promise<Response> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    return this.request('POST', path, body.toString());
  }

  async request(method: string, path: string, body?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers['Cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(path.startsWith('http') ? path : `${this.base}${path}`, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** The `_xsrf` value of the form on `path` (fails the test when there is none). */
  async xsrf(path: string): Promise<string> {
    return xsrfOf(await (await this.get(path)).text(), path);
  }

  /** Logs in through the login form; returns the form post's answer. */
  async login(name: string, password: string): Promise<Response> {
    const xsrf = await this.xsrf('/hub/login');
    return this.post('/hub/login', { _xsrf: xsrf, username: name, password });
  }
}

/** Logs `name` in through the login form of the hub at `base`; returns the `Cookie` header of the session. */
export async function loginCookieHeader(base: string, name: string, password: string): Promise<string> {
  const b = new Browser(base);
  const res = await b.login(name, password);
  assert.equal(res.status, 302, `${name} logged in`);
  return [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The `_xsrf` hidden field of an HTML page. */
export function xsrfOf(html: string, where = 'the page'): string {
  const m = /name="_xsrf" value="([^"]+)"/.exec(html);
  assert.ok(m, `no _xsrf field on ${where}`);
  return m[1]!;
}
