/**
 * Several proxies behind one {@link Proxy}: every route change goes to each
 * of them, so any proxy can serve any user. Reconciliation repairs each
 * member's table separately (see src/hub/reconcile.ts and {@link MultiProxy.members}).
 */
import type { Logger } from 'pino';
import { ProxyError } from '../lib/errors.js';
import { ChpClient } from './chp-client.js';
import type { Proxy, Route, RouteData } from './proxy.js';

/** One proxy of a {@link MultiProxy}, with the name used in logs and errors (its API URL). */
export interface ProxyMember {
  name: string;
  proxy: Proxy;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class MultiProxy implements Proxy {
  private readonly list: readonly ProxyMember[];
  private readonly log: Logger | undefined;

  /** `members`: proxies (named `proxy 1`, `proxy 2`, … in errors) or named members. */
  constructor(members: ReadonlyArray<Proxy | ProxyMember>, opts: { log?: Logger } = {}) {
    if (members.length === 0) throw new ProxyError('MultiProxy needs at least one proxy');
    this.list = members.map((m, i) => ('proxy' in m && 'name' in m ? m : { name: `proxy ${i + 1}`, proxy: m as Proxy }));
    this.log = opts.log;
  }

  /** One ChpClient per API URL, all with the same token. */
  static fromApiUrls(apiUrls: readonly string[], authToken: string, opts: { log?: Logger; timeoutMs?: number } = {}): MultiProxy {
    const members = apiUrls.map((apiUrl) => ({
      name: apiUrl,
      proxy: new ChpClient({ apiUrl, authToken, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) }),
    }));
    return new MultiProxy(members, opts.log ? { log: opts.log } : {});
  }

  /** The proxies, in order; reconciliation repairs each one's table. */
  members(): ProxyMember[] {
    return [...this.list];
  }

  addRoute(routespec: string, target: string, data: RouteData): Promise<void> {
    return this.everywhere(`add the route ${routespec}`, (p) => p.addRoute(routespec, target, data));
  }

  deleteRoute(routespec: string): Promise<void> {
    return this.everywhere(`delete the route ${routespec}`, (p) => p.deleteRoute(routespec));
  }

  /** The routes of the first proxy that answers (in order). */
  async getAllRoutes(): Promise<Map<string, Route & { lastActivity?: Date }>> {
    const failures: string[] = [];
    for (const m of this.list) {
      try {
        return await m.proxy.getAllRoutes();
      } catch (err) {
        this.log?.warn({ proxy: m.name, err: message(err) }, 'could not read the routes of a proxy; trying the next');
        failures.push(`${m.name}: ${message(err)}`);
      }
    }
    throw new ProxyError(`No proxy answered when reading routes (${failures.join('; ')})`);
  }

  /** Runs `call` on every member in parallel; after all have finished, throws naming each that failed. */
  private async everywhere(what: string, call: (p: Proxy) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(this.list.map((m) => call(m.proxy)));
    const failures: string[] = [];
    let cause: unknown;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const name = this.list[i]!.name;
      this.log?.error({ proxy: name, err: message(r.reason) }, `could not ${what} on a proxy`);
      failures.push(`${name}: ${message(r.reason)}`);
      cause ??= r.reason;
    });
    if (failures.length) {
      const of = `${failures.length} of ${this.list.length} proxies`;
      throw new ProxyError(`Could not ${what} on ${of} (${failures.join('; ')})`, { cause });
    }
  }
}

/** The proxies behind `proxy`: a {@link MultiProxy}'s members, else `proxy` alone. */
export function proxyMembers(proxy: Proxy): ProxyMember[] {
  return proxy instanceof MultiProxy ? proxy.members() : [{ name: 'proxy', proxy }];
}
