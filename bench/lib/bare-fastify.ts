/** Starts bench/lib/bare-fastify.mjs: a bare Fastify server answering captured JSON, the API bench's framework baseline. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitAnswer } from './http.js';
import { startProcess, stopProcess } from './procs.js';

const SCRIPT = fileURLToPath(new URL('./bare-fastify.mjs', import.meta.url));

export interface BareFastify {
  url: string;
  stop(): Promise<void>;
}

/** Serves each `routes` value as JSON at its path on 127.0.0.1 (a free port), from its own node process. */
export async function startBareFastify(routes: Record<string, unknown>): Promise<BareFastify> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-bench-bare-'));
  const file = path.join(dir, 'routes.json');
  writeFileSync(file, JSON.stringify(routes));
  const port = await freePort();
  const child = await startProcess(process.execPath, [SCRIPT, String(port), file], { cwd: dir, logFile: path.join(dir, 'server.log') });
  const url = `http://127.0.0.1:${port}`;
  const first = Object.keys(routes)[0] ?? '/';
  await waitAnswer(`${url}${first}`, { intervalMs: 10, timeoutMs: 30_000, ok: (s) => s === 200, alive: () => child.exitCode === null });
  return {
    url,
    async stop() {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
