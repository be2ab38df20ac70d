import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * Watches a few files (the config file, the secret files it names) for
 * changes of their content, for the live reload (src/hub/reload.ts).
 *
 * It watches their directories, not the files: editors replace a file by
 * renaming a new one over it, and Kubernetes updates a mounted ConfigMap or
 * Secret by swapping the directory's `..data` symlink, which a watch on the
 * old file never sees. An event for a watched name, for a `..`-name
 * (Kubernetes' swap) or without a name schedules one check after
 * `debounceMs` (later events before it are folded in); the check compares
 * each file's content digest with the last one seen, so an event that
 * changed nothing (a touch, a write of the same text, another file of the
 * directory) calls nothing.
 */
export class FileWatch {
  private watchers: FSWatcher[] = [];
  private digests = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: {
      /** Called with the files whose content changed (absolute paths, as given to {@link watch}). */
      onChange: (files: string[]) => void;
      log: Logger;
      /** Wait after the first event before comparing (default 300 ms). */
      debounceMs?: number;
    },
  ) {}

  /** Watches exactly `files` from now on (their current content is the reference). */
  watch(files: readonly string[]): void {
    this.unwatch();
    this.closed = false;
    const absolute = [...new Set(files.map((f) => path.resolve(f)))];
    this.digests = new Map(absolute.map((f) => [f, digest(f)]));
    const byDir = new Map<string, Set<string>>();
    for (const file of absolute) {
      // the file's own directory, and its target's when it is a symlink to another directory
      // (not one inside its own, as Kubernetes' `..data/…`: the swap is seen in the file's directory)
      const real = realpathOr(file);
      for (const p of real.startsWith(`${path.dirname(file)}${path.sep}`) ? [file] : [file, real]) {
        const names = byDir.get(path.dirname(p)) ?? new Set<string>();
        names.add(path.basename(p));
        byDir.set(path.dirname(p), names);
      }
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          const n = name === null ? null : String(name);
          if (n === null || names.has(n) || n.startsWith('..')) this.schedule();
        });
        w.on('error', (err) => this.opts.log.warn({ dir, err: err.message }, 'config watch: cannot watch this directory any more; SIGHUP still reloads'));
        this.watchers.push(w);
      } catch (err) {
        this.opts.log.warn({ dir, err: (err as Error).message }, 'config watch: cannot watch this directory; SIGHUP still reloads');
      }
    }
  }

  /** Stops watching (a pending check is dropped). */
  close(): void {
    this.closed = true;
    this.unwatch();
  }

  private unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.check();
    }, this.opts.debounceMs ?? 300);
    this.timer.unref();
  }

  private check(): void {
    const changed: string[] = [];
    for (const [file, before] of this.digests) {
      const now = digest(file);
      if (now !== before) {
        this.digests.set(file, now);
        changed.push(file);
      }
    }
    if (changed.length) this.opts.onChange(changed);
  }
}

/** The SHA-256 of a file's content, or why it cannot be read (so a file that goes and comes back counts as a change). */
function digest(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

function realpathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/**
 * The files a configuration names by options ending in `_file` (secrets
 * such as `auth.client_secret_file`, `services[].api_token_file`), at any
 * depth; empty values skipped.
 */
export function filesNamedBy(config: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, sub] of Object.entries(v)) {
        if (k.endsWith('_file') && typeof sub === 'string' && sub !== '') out.push(sub);
        else walk(sub);
      }
    }
  };
  walk(config);
  return out;
}
