/**
 * Persistence of the built-in proxy's routing table to a JSON file, so that a
 * proxy restarted after a crash serves the same routes before the hub has
 * re-sent them. Writes are debounced and atomic (write a temporary file, then
 * rename it over the old one).
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { RouteData, RouteTable } from './route-table.js';

const STATE_VERSION = 1;

export interface StateFileContents {
  version: number;
  /** Route key -> route data, with `last_activity` as an ISO 8601 string. */
  routes: Record<string, Record<string, unknown>>;
}

/** The table as the REST API and the state file show it: data plus `last_activity`. */
export function serializeRoutes(table: RouteTable): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const entry of table.entries()) {
    out[entry.key] = { ...entry.data, last_activity: new Date(entry.lastActivity).toISOString() };
  }
  return out;
}

/**
 * Reads `file` into `table`. A missing file is an empty table. A file that
 * cannot be parsed is logged and ignored (the hub re-adds its routes anyway).
 * Returns the number of routes loaded.
 */
export async function loadStateFile(file: string, table: RouteTable, log: Logger): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    log.error({ file, err: String(err) }, 'proxy state file is not valid JSON; starting with no routes');
    return 0;
  }
  if (!isRecord(parsed) || parsed['version'] !== STATE_VERSION || !isRecord(parsed['routes'])) {
    log.error({ file }, 'proxy state file has an unknown format; starting with no routes');
    return 0;
  }
  let count = 0;
  for (const [key, value] of Object.entries(parsed['routes'])) {
    if (!isRecord(value) || typeof value['target'] !== 'string') {
      log.warn({ file, route: key }, 'skipping malformed route in proxy state file');
      continue;
    }
    const { last_activity: lastActivity, ...rest } = value;
    const when = typeof lastActivity === 'string' ? Date.parse(lastActivity) : NaN;
    table.set(key, rest as RouteData, Number.isNaN(when) ? Date.now() : when);
    count++;
  }
  return count;
}

/**
 * Where the proxy keeps its routing table between runs (`--state-file`, or a
 * database: state-db.ts). The proxy loads it once at start, then tells it of
 * every change; the store decides when to write. A store shared by several
 * proxies (state-db.ts) also changes the loaded table itself when the others
 * change routes, without calling `schedule()`.
 */
export interface RouteStore {
  /** A name for logs (a file path, a database URL without its password). */
  readonly description: string;
  /** Loads the saved routes into `table`; returns how many. The store may keep `table` and change it later (see above). */
  load(table: RouteTable): Promise<number>;
  /** Notes that the route at `key` was added, replaced or removed (no key: anything may have changed). */
  schedule(key?: string): void;
  /** Writes pending changes now, with every route's latest `last_activity`, and waits until they are stored. */
  flush(): Promise<void>;
  /** Flushes, then releases what the store holds (connections). */
  close(): Promise<void>;
}

/** The `--state-file` store: the whole table as one JSON file. */
export class FileRouteStore implements RouteStore {
  private writer: StateFileWriter | undefined;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  get description(): string {
    return this.file;
  }

  async load(table: RouteTable): Promise<number> {
    const n = await loadStateFile(this.file, table, this.log);
    this.writer = new StateFileWriter(this.file, table, this.log);
    return n;
  }

  schedule(): void {
    this.writer?.schedule();
  }

  async flush(): Promise<void> {
    if (this.writer === undefined) return;
    this.writer.schedule(); // the latest last_activity values too
    await this.writer.flush();
  }

  close(): Promise<void> {
    return this.flush();
  }
}

/** Debounced, atomic writer of the routing table. */
export class StateFileWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly file: string,
    private readonly table: RouteTable,
    private readonly log: Logger,
    private readonly delayMs = 50,
  ) {}

  /** Notes a change; the file is written at most `delayMs` later. */
  schedule(): void {
    this.dirty = true;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.delayMs);
  }

  /** Writes pending changes now and waits until the file is on disk. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.writing !== undefined) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }

  private async write(): Promise<void> {
    const contents: StateFileContents = { version: STATE_VERSION, routes: serializeRoutes(this.table) };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(contents), { mode: 0o600 });
      await rename(tmp, this.file);
      this.log.debug({ file: this.file, routes: this.table.size }, 'proxy state saved');
    } catch (err) {
      this.dirty = true; // try again on the next change or flush
      this.log.error({ file: this.file, err: String(err) }, 'could not save proxy state');
      await unlink(tmp).catch(() => undefined);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
