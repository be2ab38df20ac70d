import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { groupNameProblem, quotePath, serverNameProblem, usernameProblem } from '../lib/names.js';
import { pageUser, requireXsrf } from './session.js';

/** One admin-page button: the REST call it makes. */
interface ApiCall {
  method: 'POST' | 'DELETE' | 'PATCH';
  path: string;
  body?: Record<string, unknown>;
}

function required(form: Record<string, string>, field: string, what: string): string {
  const v = (form[field] ?? '').trim();
  if (!v) throw new HubError(400, `${what}: the ${field} field is empty`);
  return v;
}

/** A name field, checked against the hub's name rules (a `..` would otherwise be read as path syntax). */
function named(form: Record<string, string>, field: 'user' | 'group', what: string): string {
  const v = required(form, field, what);
  const problem = field === 'user' ? usernameProblem(v) : groupNameProblem(v);
  if (problem) throw new HubError(400, `${what}: ${problem}`);
  return v;
}

/**
 * Whether `path` reaches the router as written. `app.inject` resolves it as a
 * URL: dot segments (`..`, `.`, and their percent-encoded forms) climb, so
 * `users/bob/servers/..` would be `DELETE /users/bob`, another route than the
 * button's. Every replayed call must be the route it was built as.
 */
export function pathKeptAsWritten(path: string): boolean {
  try {
    return new URL(path, 'http://hub.invalid').pathname === path;
  } catch {
    return false;
  }
}

/** Where the page goes back to after an action: its own view (`<hub>admin`, with a query), else the plain page. */
export function adminBack(hubPrefix: string, back: string | undefined): string {
  const page = `${hubPrefix}admin`;
  const v = back ?? '';
  return (v === page || v.startsWith(`${page}?`)) && /^[\x21-\x7e]*$/.test(v) && pathKeptAsWritten(v.split('?', 1)[0]!) ? v : page;
}

/**
 * The REST call behind each `op` of the admin page's forms: names checked
 * against the name rules, and the path refused unless the router reads it
 * as written (see {@link pathKeptAsWritten}).
 */
export function apiCallFor(form: Record<string, string>): ApiCall {
  const call = callFor(form);
  if (!pathKeptAsWritten(`/api/${call.path}`)) throw new HubError(400, `${form['op'] ?? ''}: the names make a path that would reach another API route`);
  return call;
}

function callFor(form: Record<string, string>): ApiCall {
  const op = form['op'] ?? '';
  const user = (what: string): string => quotePath(named(form, 'user', what));
  const group = (what: string): string => quotePath(named(form, 'group', what));
  const server = form['server'] ?? '';
  const serverProblem = serverNameProblem(server);
  if (serverProblem && (op === 'start' || op === 'stop' || op === 'delete-server')) throw new HubError(400, `${op}: ${serverProblem}`);
  const serverPath = (u: string): string => (server ? `users/${u}/servers/${quotePath(server)}` : `users/${u}/server`);
  switch (op) {
    case 'add-user':
      return { method: 'POST', path: `users/${user('add user')}`, body: { admin: form['admin'] === '1' } };
    case 'delete-user':
      return { method: 'DELETE', path: `users/${user('delete user')}` };
    case 'grant-admin':
    case 'revoke-admin':
      return { method: 'PATCH', path: `users/${user(op)}`, body: { admin: op === 'grant-admin' } };
    case 'start':
      return { method: 'POST', path: serverPath(user('start server')) };
    case 'stop':
      return { method: 'DELETE', path: serverPath(user('stop server')) };
    case 'delete-server':
      if (!server) throw new HubError(400, 'delete server: the default server cannot be deleted, only stopped');
      return { method: 'DELETE', path: serverPath(user('delete server')), body: { remove: true } };
    case 'group-add':
    case 'group-remove':
      return { method: op === 'group-add' ? 'POST' : 'DELETE', path: `groups/${group(op)}/users`, body: { users: [named(form, 'user', op)] } };
    case 'group-create':
      return { method: 'POST', path: `groups/${group('create group')}` };
    case 'group-delete':
      return { method: 'DELETE', path: `groups/${group('delete group')}` };
    default:
      throw new HubError(400, `Unknown admin action ${JSON.stringify(op.slice(0, 40))}`);
  }
}

/**
 * `POST /hub/admin/action`: the admin page's buttons. The form's XSRF token is
 * checked here, then the action is made as the matching REST API call with
 * the viewer's own login cookie and that token, so the page can do exactly
 * what the API lets the viewer do, through the same checks and audit entries.
 * Success goes back to the page (post/redirect/get); a refusal shows the
 * API's status and message.
 */
export function adminActionRoutes(app: FastifyInstance, hub: Hub): void {
  app.post('/admin/action', async (req, reply) => {
    const who = await pageUser(hub, req, reply);
    if (!who) return reply;
    const form = requireXsrf(req);
    const call = apiCallFor(form);
    const res = await app.inject({
      method: call.method,
      url: `${hub.urls.hub}api/${call.path}`,
      headers: {
        cookie: req.headers.cookie ?? '',
        'x-xsrftoken': form['_xsrf'] ?? '',
        ...(req.headers.host ? { host: req.headers.host } : {}),
        ...(call.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(call.body ? { payload: JSON.stringify(call.body) } : {}),
    });
    if (res.statusCode >= 400) {
      let message = res.body;
      try {
        message = String((JSON.parse(res.body) as { message?: unknown }).message ?? res.body);
      } catch {
        // not JSON: show the text
      }
      throw new HubError(res.statusCode, message.slice(0, 500));
    }
    return reply.redirect(adminBack(hub.urls.hub, form['back']), 303);
  });
}
