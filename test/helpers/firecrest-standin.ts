/**
 * A FirecREST v2 stand-in for the tests (no real FirecREST can run in CI):
 * an HTTP server on 127.0.0.1 that serves the calls the FirecREST spawner
 * makes, as the official spec (`shared/specs/firecrest-v2-openapi.yaml`)
 * describes them, and runs the jobs on the real local Slurm as the token's
 * user. See test-targets.md §1 for the facts it follows.
 *
 * - Access tokens: JWTs verified against the OIDC provider's JWKS (signature
 *   and `exp`; the audience is not checked, as FirecREST does not). The Unix
 *   user is the claim `usernameClaim`, mapped through `userMap`.
 * - Requests the spec refuses are refused (422 `errorType: validation`), so
 *   are env values with quotes (400, as the real FirecREST does); every
 *   response it sends is validated against the spec, and a mismatch is
 *   recorded in `violations` (tests assert it stays empty).
 * - A path with a trailing slash gets 307 to the path without it, and is
 *   recorded in `clientMistakes` with every other request the spec refuses.
 *
 * The Slurm side is in firecrest-standin-slurm.ts, the spec checks in
 * firecrest-standin-spec.ts, the routes in firecrest-standin-routes.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { freePort } from '../../src/lib/free-port.js';
import { responseProblem } from './firecrest-standin-spec.js';
import { route, type Answer, type Caller, type RouteContext } from './firecrest-standin-routes.js';

/** One system (cluster) the stand-in serves. */
export interface StandinSystem {
  /**
   * The Slurm accounts of each Unix user, as `userinfo` reports them; a
   * submit charging an account the user does not have is refused (as Slurm
   * with accounting would). A system without `accounts` accepts any account.
   */
  accounts?: Record<string, { name: string; default?: boolean }[]>;
  /**
   * The partitions `/status/{system}/partitions` lists (default: `sinfo`). A
   * submitted partition must be one of them; one the local Slurm does not
   * have is not passed to sbatch (the job runs in its default partition).
   */
  partitions?: string[];
}

export interface FirecrestStandinOptions {
  /** The OIDC provider's issuer. */
  issuer: string;
  /** Its JWKS (default `<issuer>/jwks`). */
  jwksUri?: string;
  /** The claim naming the user (default `preferred_username`). */
  usernameClaim?: string;
  /** The systems by name (the `{system_name}` of every path). */
  systems: Record<string, StandinSystem>;
  /** Token subjects (`sub`) that may read any user's job, as the CSCS service account. */
  serviceAccounts?: string[];
  /** Claim value → Unix user (default: the claim value itself). */
  userMap?: Record<string, string>;
}

/** A request the stand-in answered (never its headers or body). */
export interface StandinRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** The Unix user of the token, when it was valid. */
  user?: string;
  status: number;
}

/**
 * A job submission the stand-in accepted as valid (Slurm may still have
 * refused it: then `jobId` is absent). `job` is the parsed `JobDescriptionModel`;
 * its `env` and `script` are readable (`job.env`, `job.script`) but not
 * enumerable, so that printing or diffing a submission shows neither (they may
 * carry secrets).
 */
export interface StandinSubmission {
  system: string;
  user: string;
  jobId?: string;
  job: Record<string, unknown> & { env?: Record<string, string>; script?: string };
}

/** `false`: serving; `'refuse'`: port closed; `'hang'`: requests never answered; `503`: every answer is 503. */
export type StandinDownMode = false | 'refuse' | 'hang' | 503;

export interface FirecrestStandin {
  /** The API root, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  readonly requests: StandinRequest[];
  readonly submitted: StandinSubmission[];
  /** Responses of the stand-in that do not match the spec (its own bugs): must stay empty. */
  readonly violations: string[];
  /** Requests the spec (or FirecREST) refuses: trailing slashes, bad bodies, quotes in env. */
  readonly clientMistakes: string[];
  /** Makes FirecREST unreachable, hanging or failing (503), or serving again (`false`). */
  setDown(mode: StandinDownMode): Promise<void>;
  /**
   * The next request whose method and path (with query) match gets `status`
   * and `body` (default an `ApiResponseError`), once, after its token is checked.
   */
  failNext(method: string, path: RegExp, status: number, body?: unknown): void;
  close(): Promise<void>;
}

const UNIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const LIVENESS = /^\/status\/liveness\/?$/;

/** Starts the stand-in on 127.0.0.1, a free port. */
export async function startFirecrestStandin(opts: FirecrestStandinOptions): Promise<FirecrestStandin> {
  const port = await freePort('127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const jwks = createRemoteJWKSet(new URL(opts.jwksUri ?? `${opts.issuer}/jwks`), { cooldownDuration: 1000, timeoutDuration: 5000 });
  const usernameClaim = opts.usernameClaim ?? 'preferred_username';
  const services = new Set(opts.serviceAccounts ?? []);
  const requests: StandinRequest[] = [];
  const submitted: StandinSubmission[] = [];
  const violations: string[] = [];
  const clientMistakes: string[] = [];
  const failures: { method: string; path: RegExp; status: number; body: unknown }[] = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let down: StandinDownMode = false;
  let server: Server | undefined;

  const authenticate = async (req: IncomingMessage): Promise<Caller | Answer> => {
    const header = req.headers.authorization;
    const m = /^Bearer +(\S+)$/i.exec(header ?? '');
    if (header === undefined || m === null) return { status: 401, body: { message: 'Not authenticated' } };
    const invalid: Answer = { status: 401, body: { errorType: 'error', message: 'Access token is invalid.' } };
    try {
      const { payload } = await jwtVerify(m[1] as string, jwks, { algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'] });
      const claim = payload[usernameClaim];
      if (typeof claim !== 'string' || claim === '') return invalid;
      const user = opts.userMap !== undefined && Object.hasOwn(opts.userMap, claim) ? (opts.userMap[claim] as string) : claim;
      if (!UNIX_USER.test(user)) return invalid;
      return { user, service: typeof payload.sub === 'string' && services.has(payload.sub) };
    } catch {
      return invalid;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const target = new URL(req.url ?? '/', url);
    const path = target.pathname;
    let user: string | undefined = undefined;
    let operation: string | undefined;
    const send = (a: Answer, injected = false): void => {
      const problem = injected ? undefined : responseProblem(operation, a.status, a.body);
      if (problem !== undefined) violations.push(`${method} ${path} → ${a.status}: ${problem}`);
      requests.push({ method, path: `${path}${target.search}`, ...(user === undefined ? {} : { user }), status: a.status });
      const headers: Record<string, string> = { ...a.headers };
      if (a.body !== undefined) headers['content-type'] = 'application/json';
      res.writeHead(a.status, headers).end(a.body === undefined ? undefined : JSON.stringify(a.body));
    };
    if (down === 'hang') {
      hanging.add(res);
      return;
    }
    if (down === 503) return send({ status: 503, body: { errorType: 'error', message: 'Service Unavailable (stand-in set down)' } });
    if (LIVENESS.test(path)) {
      operation = 'GET /status/liveness/';
      if (method !== 'GET') return send({ status: 405, body: { errorType: 'error', message: 'Method Not Allowed' } });
      return send({ status: 200, body: { healthcheckRuns: {}, lastUpdate: Date.now() } });
    }
    if (path.length > 1 && path.endsWith('/')) {
      clientMistakes.push(`${method} ${path}: trailing slash (FirecREST answers 307)`);
      // absolute, as Starlette's redirect_slashes sends it
      return send({ status: 307, headers: { location: `${url}${path.replace(/\/+$/, '')}${target.search}` } });
    }
    const who = await authenticate(req);
    if ('status' in who) return send(who);
    user = who.user;
    const fail = failures.findIndex((f) => f.method === method && f.path.test(`${path}${target.search}`));
    if (fail >= 0) {
      const [f] = failures.splice(fail, 1);
      return send({ status: f!.status, body: f!.body }, true); // deliberate: not checked against the spec
    }
    const ctx: RouteContext = { systems: opts.systems, submitted, clientMistakes };
    const answer = await route(ctx, req, method, path, who, (op) => (operation = op));
    send(answer);
  };

  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        violations.push(`${req.method} ${req.url}: the stand-in threw ${String(err)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errorType: 'error', message: 'stand-in error' }));
      });
    });
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
  };
  const stopListening = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const releaseHanging = (): void => {
    for (const res of hanging) res.socket?.destroy();
    hanging.clear();
  };

  await listen();
  return {
    url,
    port,
    requests,
    submitted,
    violations,
    clientMistakes,
    async setDown(mode) {
      if (mode !== 'hang') releaseHanging();
      down = mode;
      if (mode === 'refuse') await stopListening();
      else if (server === undefined) await listen();
    },
    failNext(method, path, status, body) {
      failures.push({ method: method.toUpperCase(), path, status, body: body ?? { errorType: 'error', message: `injected failure ${status}` } });
    },
    async close() {
      releaseHanging();
      await stopListening();
    },
  };
}
