/**
 * A stamp of the database's content, for caches of what was read from it
 * (src/api/response-cache.ts): two reads of the stamp are equal only if no
 * write can have been committed in between, by this process or another.
 *
 * SQLite only. This process's writes are counted at the statement: every
 * statement that SQLite itself does not report read-only
 * (`sqlite3_stmt_readonly`, better-sqlite3's `readonly`) bumps the write
 * epoch just before it runs, whatever built it (Kysely's query builder,
 * a compiled query run by preparedQuery, a raw `sql` template, a
 * migration). Writes by other connections (a second hub process on the same
 * file, a CLI command) change `PRAGMA data_version`, read at most every
 * {@link OTHER_WRITERS_CHECK_MS}: under load, reading it on every request
 * cost about a sixth of `GET /users/NAME`'s throughput (26,400 against
 * 31,500 req/s). So another process's commit is seen within that time, well
 * inside the second within which the identity cache (identity-cache.ts)
 * already sees another process's revocations; this process's own writes are
 * seen at once.
 *
 * PostgreSQL has no cheap equivalent (another process's commit is not
 * visible without a query per table or a notification channel), so there is
 * no stamp there and nothing is cached.
 */
import type { Kysely } from 'kysely';
import type SQLite from 'better-sqlite3';
import type { DB } from './schema.js';

export interface ChangeStamp {
  /** The current stamp: equal to an earlier one only if nothing was written in between. */
  read(): string;
}

/** How long a read of `PRAGMA data_version` (other connections' commits) is reused, in ms. */
export const OTHER_WRITERS_CHECK_MS = 50;

/** The write epoch of one SQLite connection and its `data_version`. */
export class SqliteChangeWatch implements ChangeStamp {
  private epoch = 0;
  private dataVersion: SQLite.Statement | undefined;
  private otherWriters = 0;
  private checkedAt = -Infinity;
  private stamp = '';
  private stampEpoch = -1;
  private stampOthers = -1;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly checkEveryMs = OTHER_WRITERS_CHECK_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A statement that may write is about to run on this connection. */
  bump(): void {
    this.epoch++;
  }

  read(): string {
    // prepared on first use, not while the connection is being set up
    this.dataVersion ??= this.sqlite.prepare('PRAGMA data_version').pluck();
    const t = this.now();
    if (t - this.checkedAt >= this.checkEveryMs) {
      this.otherWriters = this.dataVersion.get() as number;
      this.checkedAt = t;
    }
    // the same text while nothing changed (no string is made per read)
    if (this.stampEpoch !== this.epoch || this.stampOthers !== this.otherWriters) {
      this.stampEpoch = this.epoch;
      this.stampOthers = this.otherWriters;
      this.stamp = `${this.epoch}:${this.otherWriters}`;
    }
    return this.stamp;
  }
}

const stamps = new WeakMap<Kysely<DB>, ChangeStamp>();

export function registerChangeStamp(db: Kysely<DB>, stamp: ChangeStamp): void {
  stamps.set(db, stamp);
}

/** The change stamp of a database opened by openDatabase, or undefined when its changes cannot be seen cheaply (PostgreSQL). */
export function changeStampOf(db: Kysely<DB>): ChangeStamp | undefined {
  return stamps.get(db);
}
