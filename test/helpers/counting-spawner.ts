/**
 * {@link countingSpawner}: a spawner double for crowds of spawns (the spawn
 * queue's tests and benchmarks). Every server it starts is one shared
 * in-process HTTP listener answering 200 (no process per server, so 300
 * servers cost nothing); `start` waits `delayMs` (abortable) first. It
 * records the order of its starts and the most starts in progress at once,
 * over every hub that shares the instance.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpawnError } from '../../src/lib/errors.js';
import type { PollResult, SpawnRequest, Spawner, SpawnerState, StartResult } from '../../src/spawners/spawner.js';

export interface CountingState extends SpawnerState {
  v: 1;
  n: number;
}

export class CountingSpawner implements Spawner {
  readonly kind = 'counting-double';
  /** `user` or `user:server` of each start, in the order `start` was called. */
  readonly order: string[] = [];
  /** Starts in progress now, and the most at once. */
  inProgress = 0;
  maxInProgress = 0;
  private n = 0;
  private readonly live = new Set<number>();
  private listener: http.Server | undefined;
  private port: Promise<number> | undefined;

  constructor(private readonly delayMs = 0) {}

  private listen(): Promise<number> {
    this.port ??= new Promise((resolve, reject) => {
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"version":"counting-double"}');
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
      this.listener = server;
    });
    return this.port;
  }

  async start(req: SpawnRequest): Promise<StartResult> {
    this.order.push(req.serverName ? `${req.user.name}:${req.serverName}` : req.user.name);
    this.inProgress++;
    this.maxInProgress = Math.max(this.maxInProgress, this.inProgress);
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = () => {
          clearTimeout(timer);
          reject(new SpawnError('counting-double was aborted', 'cancelled'));
        };
        const timer = setTimeout(() => {
          req.signal.removeEventListener('abort', fail);
          resolve();
        }, this.delayMs);
        // a start left running by a hub a test detached (as if killed) must not hold the test process open
        timer.unref();
        if (req.signal.aborted) fail();
        else req.signal.addEventListener('abort', fail, { once: true });
      });
      const state: CountingState = { v: 1, n: ++this.n };
      this.live.add(state.n);
      await req.saveState(state);
      return { url: `http://127.0.0.1:${await this.listen()}`, state };
    } finally {
      this.inProgress--;
    }
  }

  async poll(state: SpawnerState): Promise<PollResult> {
    return this.live.has((state as Partial<CountingState>).n ?? -1) ? { status: 'running' } : { status: 'stopped' };
  }

  async stop(state: SpawnerState): Promise<void> {
    this.live.delete((state as Partial<CountingState>).n ?? -1);
  }

  /** Closes the shared listener (test clean-up). */
  async close(): Promise<void> {
    this.live.clear();
    const l = this.listener;
    if (l) await new Promise<void>((resolve) => l.close(() => resolve()));
    l?.closeAllConnections();
  }
}

export const countingSpawner = (delayMs = 0): CountingSpawner => new CountingSpawner(delayMs);
