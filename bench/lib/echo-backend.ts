/**
 * The backend of the proxy benchmark, run as its own process:
 *   node --import tsx bench/lib/echo-backend.ts <port>
 * A keep-alive HTTP server answering every request with a short 200, and a
 * websocket server (on every path) echoing each message back.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: echo-backend.ts <port>');

const body = Buffer.from('ok\n');
const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, binary) => ws.send(data, { binary }));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
