import type { FastifyInstance } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { quotePath } from '../lib/names.js';
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

/** The REST call behind each `op` of the admin page's forms. */
export function apiCallFor(form: Record<string, string>): ApiCall {
  const op = form['op'] ?? '';
  const user = (what: string): string => quotePath(required(form, 'user', what));
  const group = (what: string): string => quotePath(required(form, 'group', what));
  const server = form['server'] ?? '';
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
      return { method: op === 'group-add' ? 'POST' : 'DELETE', path: `groups/${group(op)}/users`, body: { users: [required(form, 'user', op)] } };
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
    const back = form['back'] ?? '';
    return reply.redirect(back.startsWith(`${hub.urls.hub}admin`) && !back.includes('//') && /^[\x21-\x7e]*$/.test(back) ? back : `${hub.urls.hub}admin`, 303);
  });
}
