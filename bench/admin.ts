/**
 * The admin page and the user list at scale: 50,000 users, 1,000 of them with
 * a running server, Ganymede only (see the note on JupyterHub 3.0 below).
 *
 * The hub (dist/, as the other benchmarks) starts with an empty database and
 * the poll loop off; the users and the servers' rows ("ready" at an address
 * nobody listens on) are then inserted straight into its SQLite file
 * (test/helpers/bulk-users.ts), so start-up re-attach does not clear them and
 * nothing polls them. Then, after a warm-up, each request is loaded at 1 and
 * 10 connections: the admin page (an admin's login cookie) searched, sorted
 * and deep in the pages, and `GET /hub/api/users` with `state=ready`,
 * `name_filter` and a deep last-activity page (an admin's token).
 *
 * Run: node --import tsx bench/admin.ts [--quick]   (or: npm run bench -- admin)
 */
import path from 'node:path';
import { createGanymede } from './lib/hubs.js';
import { load, type LoadResult } from './lib/load.js';
import { fmtMs, fmtNum, log, table, within, type BenchResult, type Figure } from './lib/report.js';
import { profiler, runIfMain, type BenchOptions } from './lib/common.js';
import { openDatabase } from '../src/db/database.js';
import { insertUsers } from '../test/helpers/bulk-users.js';

const USERS = 50_000;
const RUNNING = 1000;
const CONNECTIONS = [1, 10];
const ADMIN_PASSWORD = 'bench-admin-password';

interface Row extends LoadResult {
  what: string;
  connections: number;
}

/** Logs in through the form; returns the Cookie header of the session. */
async function loginCookie(hubUrl: string, name: string, password: string): Promise<string> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${hubUrl}/hub/login`);
  keep(form);
  const xsrf = /name="_xsrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const res = await fetch(`${hubUrl}/hub/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie() },
    body: new URLSearchParams({ _xsrf: xsrf, username: name, password }).toString(),
  });
  keep(res);
  if (res.status !== 302) throw new Error(`login as ${name}: HTTP ${res.status}`);
  return cookie();
}

export async function adminBench(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const seconds = opts.quick ? 1 : 10;
  const prof = profiler(opts, 'admin.ts load (admin page, GET /users filters)');
  const hub = await createGanymede({
    nodeArgs: prof.nodeArgs,
    keepDir: opts.keep,
    extraConfig: {
      poll_interval: 0,
      admin_users: ['bench-admin'],
      auth: { kind: 'shared-password', shared_password: 'bench-shared-password-not-used', admin_password: ADMIN_PASSWORD },
    },
  });
  const rows: Row[] = [];
  try {
    await hub.start();
    log(`admin: inserting ${fmtNum(USERS)} users, ${fmtNum(RUNNING)} with a ready server row`);
    const t0 = performance.now();
    const database = await openDatabase('sqlite:///ganymede.sqlite', path.join(hub.dir, 'data'));
    try {
      await insertUsers(database.db, { count: USERS, running: RUNNING });
    } finally {
      await database.close();
    }
    log(`admin: inserted in ${fmtMs(performance.now() - t0)}`);
    const cookie = await loginCookie(hub.hubUrl, 'bench-admin', ADMIN_PASSWORD);
    const pages: [string, string, Record<string, string>][] = [
      ['admin page, first page by name', '/hub/admin', { Cookie: cookie }],
      ['admin page, search "user4999"', '/hub/admin?q=user4999', { Cookie: cookie }],
      ['admin page, active first', '/hub/admin?sort=active', { Cookie: cookie }],
      ['admin page, last activity, offset 25,000', '/hub/admin?sort=-last_activity&offset=25000', { Cookie: cookie }],
      ['GET /users?state=ready (200 of 1,000)', '/hub/api/users?state=ready', { Authorization: `token ${hub.api.token}` }],
      ['GET /users?name_filter=user4999', '/hub/api/users?name_filter=user4999', { Authorization: `token ${hub.api.token}` }],
      ['GET /users?sort=-last_activity&offset=25000&limit=50', '/hub/api/users?sort=-last_activity&offset=25000&limit=50', { Authorization: `token ${hub.api.token}` }],
    ];
    for (const [what, url, headers] of pages) {
      const check = await fetch(`${hub.hubUrl}${url}`, { headers });
      const size = (await check.text()).length;
      if (check.status !== 200) throw new Error(`${url}: HTTP ${check.status}`);
      await load({ url: `${hub.hubUrl}${url}`, headers, connections: 2, seconds: opts.quick ? 1 : 2 });
      for (const connections of CONNECTIONS) {
        const r = await load({ url: `${hub.hubUrl}${url}`, headers, connections, seconds });
        log(`admin: ${what} c=${connections}: ${r.rps.toFixed(0)} req/s p50 ${fmtMs(r.p50)} p99 ${fmtMs(r.p99)} errors ${r.errors} (${fmtNum(size)} bytes)`);
        rows.push({ ...r, what, connections });
      }
    }
  } finally {
    // the inserted rows have no process behind them: nothing to stop but the hub and its proxy
    await hub.stop();
    prof.report();
    await hub.killProxy();
    await hub.dispose();
  }
  process.stdout.write(
    `\n### admin: every run (${rows[0]?.tool ?? 'wrk'}, ${seconds} s each, hub port direct, ${fmtNum(USERS)} users, ${fmtNum(RUNNING)} running)\n\n` +
      table(
        ['request', 'conns', 'req/s', 'p50', 'p99', 'errors'],
        rows.map((r) => [r.what, String(r.connections), fmtNum(r.rps), fmtMs(r.p50), fmtMs(r.p99), String(r.errors)]),
      ) +
      '\n',
  );
  const figures: Figure[] = rows
    .filter((r) => r.connections === 1)
    .map((r) => ({ metric: `${r.what}: p50 / p99 (1 connection)`, ganymede: `${fmtMs(r.p50)} / ${fmtMs(r.p99)}`, jupyterhub: 'not measured' }));
  return {
    name: 'admin',
    title: `Admin page and user list with ${fmtNum(USERS)} users and ${fmtNum(RUNNING)} running servers`,
    figures,
    notes: [
      'Users and server rows are inserted into the database directly (the servers are rows marked ready, with no process; the poll loop is off).',
      "JupyterHub 3.0 is not measured: it has no name_filter (5.0+) and its admin page renders in the browser from the API, so there is no like-for-like request; filling it with 50,000 users through its API takes long on this machine.",
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

runIfMain(import.meta.url, (o) => within(20 * 60_000, 'admin benchmark', adminBench(o)));
