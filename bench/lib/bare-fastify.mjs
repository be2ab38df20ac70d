// A bare Fastify server for bench/api.ts: each route answers a fixed JSON value
// (the hub's own answer, captured by the bench) with Fastify's default
// serialization, no hooks, no logging: the framework's own speed on this machine.
// Usage: node bare-fastify.mjs PORT ROUTES.json   (ROUTES.json: {"/path": value, ...})
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [port, file] = process.argv.slice(2);
const routes = JSON.parse(readFileSync(file, 'utf8'));
const app = Fastify({ logger: false });
for (const [url, value] of Object.entries(routes)) app.get(url, async () => value);
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
