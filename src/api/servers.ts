import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hub } from '../hub/context.js';
import { HubError } from '../lib/errors.js';
import { serverNameProblem } from '../lib/names.js';
import { getServer } from '../db/repos/servers.js';
import { serverPrefix } from '../hub/spawn-env.js';
import type { ProgressEventOut } from '../hub/progress.js';
import { audit, auditsServerAction } from '../hub/audit.js';
import { expectType, findUserOr404, groupsOf, jsonObjectBody, onlyKeys, requireScope, sendStatus } from './common.js';

interface ServerParams {
  name: string;
  server_name?: string;
}

function params(req: FastifyRequest): { user: string; server: string } {
  const p = req.params as ServerParams;
  const server = p.server_name ?? '';
  const problem = serverNameProblem(server);
  if (problem) throw new HubError(400, problem);
  return { user: p.name, server };
}

async function startServer(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { user: name, server } = params(req);
  const who = await requireScope(hub, req, ['servers'], { server: `${name}/${server}`, userGroups: await groupsOf(hub, name, req) });
  const user = await findUserOr404(hub, name);
  if ((req.params as ServerParams).server_name !== undefined && server === '') {
    throw new HubError(400, 'Server name must not be empty; use /users/{name}/server for the default server');
  }
  const body = req.body === undefined || req.body === null || req.body === '' ? undefined : jsonObjectBody(req);
  const options = body && Object.keys(body).length ? body : undefined;
  const { outcome } = await hub.servers.spawn(user, server, options);
  if (auditsServerAction(who, name)) await audit(hub, who, 'server.start', `${name}/${server}`, { outcome });
  return sendStatus(reply, outcome === 'started' ? 201 : 202);
}

async function stopServer(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { user: name, server } = params(req);
  const who = await requireScope(hub, req, ['delete:servers'], { server: `${name}/${server}`, userGroups: await groupsOf(hub, name, req) });
  const user = await findUserOr404(hub, name);
  const body = jsonObjectBody(req);
  onlyKeys(body, ['remove'], 'stop server');
  expectType(body, 'remove', 'boolean', 'stop server');
  const remove = body['remove'] === true;
  if (server && !hub.config.allow_named_servers) throw new HubError(400, 'Named servers are not enabled.');
  if (!server && remove) throw new HubError(400, 'Cannot delete the default server');
  const row = await getServer(hub.db, user.id, server);
  if (!row) {
    if (server) throw new HubError(404, `${name} has no server named '${server}'`);
    return sendStatus(reply, 204);
  }
  const outcome = await hub.servers.stop(user, server, { remove });
  if (auditsServerAction(who, name)) await audit(hub, who, remove ? 'server.delete' : 'server.stop', `${name}/${server}`, { outcome });
  return sendStatus(reply, outcome === 'stopped' ? 204 : 202);
}

/** Streams spawn progress as server-sent events (JupyterHub's `progress` endpoint). */
async function progressStream(hub: Hub, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { user: name, server } = params(req);
  await requireScope(hub, req, ['read:servers'], { server: `${name}/${server}`, userGroups: await groupsOf(hub, name, req) });
  const user = await findUserOr404(hub, name);
  const row = await getServer(hub.db, user.id, server);
  if (!row) throw new HubError(404, `${name} has no server named '${server}'`);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no', 'X-JupyterHub-Version': '5.5.1' });
  const send = (e: ProgressEventOut) => res.write(`data: ${JSON.stringify(e)}\n\n`);
  const url = serverPrefix(hub.urls, name, server);
  const readyEvent = { progress: 100, ready: true, message: `Server ready at ${url}`, html_message: `Server ready at <a href="${url}">${url}</a>`, url };
  if (row.ready && !row.pending) {
    send(readyEvent);
    res.end();
    return;
  }
  const record = hub.servers.progressOf(row.id);
  for (const e of record.events) send(e);
  if (record.done || row.pending !== 'spawn') {
    if (!record.done) send({ progress: 100, failed: true, message: `${name}'s server ${server} is not running` });
    res.end();
    return;
  }
  // Follow the events of the spawn in this process; also re-read the row every
  // second, so a spawn run by another hub process (or lost in a restart) ends
  // the stream too. Bounded by the spawn's own time limits (and the queue's).
  // a queued spawn may first wait up to spawn_queue.max_wait (no bound there: the spawn's own start limits then)
  const queueWait = hub.config.spawn_queue.max_wait || 3600;
  const limitMs = (queueWait + hub.config.start_timeout + hub.config.http_timeout + 10) * 1000;
  await new Promise<void>((resolve) => {
    let finished = false;
    const finish = (last?: ProgressEventOut) => {
      if (finished) return;
      finished = true;
      unsubscribe();
      clearInterval(check);
      clearTimeout(limit);
      if (last) send(last);
      res.end();
      resolve();
    };
    const unsubscribe = hub.servers.progress.subscribe(row.id, send, () => finish());
    const check = setInterval(() => {
      res.write(': keepalive\n\n');
      void getServer(hub.db, user.id, server).then((now) => {
        if (!now || now.pending === 'spawn') return;
        if (hub.servers.progressOf(row.id).done) return finish();
        finish(now.ready ? readyEvent : { progress: 100, failed: true, message: `${name}'s server ${server} is not running` });
      });
    }, 1000);
    const limit = setTimeout(() => finish({ progress: 100, failed: true, message: 'Gave up waiting for progress events' }), limitMs);
    res.on('close', () => finish());
  });
}

export function serversRoutes(app: FastifyInstance, hub: Hub): void {
  app.post('/users/:name/server', (req, reply) => startServer(hub, req, reply));
  app.delete('/users/:name/server', (req, reply) => stopServer(hub, req, reply));
  app.get('/users/:name/server/progress', (req, reply) => progressStream(hub, req, reply));
  app.post('/users/:name/servers/:server_name', (req, reply) => startServer(hub, req, reply));
  app.delete('/users/:name/servers/:server_name', (req, reply) => stopServer(hub, req, reply));
  app.get('/users/:name/servers/:server_name/progress', (req, reply) => progressStream(hub, req, reply));
  // the default server's progress under its empty name (JupyterHub's progress_url form)
  app.get('/users/:name/servers//progress', (req, reply) => progressStream(hub, req, reply));
}
