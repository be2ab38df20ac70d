import { escapeHtml } from '../lib/html-escape.js';
import { EventEmitter } from 'node:events';

/** One event of the `progress` stream (JupyterHub's event-stream format). */
export interface ProgressEventOut {
  progress: number;
  message: string;
  ready?: boolean;
  failed?: boolean;
  url?: string;
  html_message?: string;
}

export interface ProgressRecord {
  events: ProgressEventOut[];
  done: boolean;
  failure: string | undefined;
  /** The end of the failed server's log (control characters removed), for its owner only; never sent in events. */
  logTail?: string | undefined;
  /** Set when the spawn failed because the user must log in again (an error of status 401): where a fresh login starts. */
  loginAgainUrl?: string | undefined;
  /** The HTTP status the failure answers with in the API (the spawner error's own, e.g. 503 for a scheduler that cannot be reached); absent: 500. */
  status?: number | undefined;
}

/** Lines of a failed server's log the hub keeps for its failure page. */
export const LOG_TAIL_LINES = 40;
/** Bytes of a failed server's log the hub reads at most. */
export const LOG_TAIL_BYTES = 8192;

/** Log text made safe to keep and show: control characters (ANSI colours and such) removed, bounded in size. */
export function cleanLogTail(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '')
      .slice(-LOG_TAIL_BYTES)
  );
}

/**
 * Progress events of spawns running in this process. Transient by design: a
 * restarted hub has no spawn in flight, and the stream then reports the
 * server's state from the database.
 */
export class ProgressLog {
  private readonly records = new Map<number, ProgressRecord>();
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  reset(id: number): void {
    this.records.set(id, { events: [], done: false, failure: undefined });
  }

  get(id: number): ProgressRecord {
    return this.records.get(id) ?? { events: [], done: false, failure: undefined };
  }

  push(id: number, event: ProgressEventOut): void {
    const rec = this.records.get(id);
    if (!rec || rec.done) return;
    rec.events.push(event);
    this.emitter.emit(String(id), event);
  }

  finish(id: number, event: ProgressEventOut): void {
    this.push(id, event);
    const rec = this.records.get(id);
    if (rec) rec.done = true;
    this.emitter.emit(`${id}:done`);
  }

  /**
   * Ends a spawn as failed: a `failed` event carrying `message`, and the log
   * tail kept for the failure page. With `loginAgainUrl` (the user must log in
   * again), the event's `html_message` and the failure page link to it.
   */
  fail(id: number, message: string, logTail?: string, opts: { loginAgainUrl?: string; status?: number } = {}): void {
    const event: ProgressEventOut = { progress: 100, failed: true, message: `Spawn failed: ${message}` };
    if (opts.loginAgainUrl) event.html_message = `${escapeHtml(event.message)} <a class="login-again" href="${escapeHtml(opts.loginAgainUrl)}">Log in again</a>`;
    this.push(id, event);
    const rec = this.records.get(id);
    if (rec) {
      rec.done = true;
      rec.failure = message;
      rec.logTail = logTail === undefined ? undefined : cleanLogTail(logTail);
      rec.loginAgainUrl = opts.loginAgainUrl;
      rec.status = opts.status;
    }
    this.emitter.emit(`${id}:done`);
  }

  clear(id: number): void {
    this.records.delete(id);
  }

  /** Calls `onEvent` for each new event until done; returns an unsubscribe function. */
  subscribe(id: number, onEvent: (e: ProgressEventOut) => void, onDone: () => void): () => void {
    const key = String(id);
    this.emitter.on(key, onEvent);
    this.emitter.once(`${id}:done`, onDone);
    return () => {
      this.emitter.off(key, onEvent);
      this.emitter.off(`${id}:done`, onDone);
    };
  }
}
