/**
 * The response cache's bounds and stamps (src/api/response-cache.ts), and
 * the SQLite change stamp it relies on (src/db/change-stamp.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import SQLite from 'better-sqlite3';
import { ResponseCache } from '../../src/api/response-cache.js';
import { migrate, openDatabase } from '../../src/db/database.js';
import { changeStampOf, OTHER_WRITERS_CHECK_MS } from '../../src/db/change-stamp.js';
import { createUser, getUser } from '../../src/db/repos/users.js';
import { userWithNames } from '../../src/db/repos/user-lookup.js';

const body = (n: number) => ({ body: Buffer.alloc(n, 'x') });

describe('ResponseCache', () => {
  it('serves an entry only at the stamp it was stored with, and drops a stale one', () => {
    const c = new ResponseCache(10, 1 << 20);
    c.set('a', '1:1', body(10));
    assert.equal(c.get('a', '1:1')?.body.length, 10);
    assert.equal(c.get('a', '2:1'), undefined);
    assert.equal(c.stats.entries, 0, 'the stale entry is gone');
    assert.equal(c.stats.bytes, 0);
  });

  it('keeps at most maxEntries; an entry served since it was stored outlives older ones that were not', () => {
    const c = new ResponseCache(3, 1 << 20);
    for (const k of ['a', 'b', 'c']) c.set(k, 's', body(1));
    c.get('a', 's');
    c.set('d', 's', body(1));
    assert.equal(c.stats.entries, 3);
    assert.equal(c.get('b', 's'), undefined, 'b was the oldest not served');
    assert.ok(c.get('a', 's') && c.get('c', 's') && c.get('d', 's'));
    // all three served: the oldest (a, spared once already and served again) goes after one more round
    c.set('e', 's', body(1));
    assert.equal(c.stats.entries, 3);
    assert.equal(c.stats.bytes, 3 * (1 + 2 + 64));
  });

  it('keeps at most maxBytes, and never stores an answer over an eighth of them', () => {
    const c = new ResponseCache(1000, 8000);
    for (let i = 0; i < 50; i++) c.set(`k${i}`, 's', body(500));
    assert.ok(c.stats.bytes <= 8000, `${c.stats.bytes} bytes`);
    assert.ok(c.stats.entries < 50 && c.stats.entries > 0);
    c.set('big', 's', body(2000));
    assert.equal(c.get('big', 's'), undefined);
    c.clear();
    assert.deepEqual(c.stats, { entries: 0, bytes: 0 });
  });
});

describe('SQLite change stamp', () => {
  it('changes with every write of this connection, however built, and with a commit of another connection; not with reads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-stamp-'));
    const database = await openDatabase('sqlite:///db.sqlite', dir);
    try {
      await migrate(database);
      const db = database.db;
      const stamps = changeStampOf(db)!;
      assert.ok(stamps);
      let s = stamps.read();
      const changed = (what: string) => {
        const next = stamps.read();
        assert.notEqual(next, s, `${what} changes the stamp`);
        s = next;
      };
      const same = (what: string) => assert.equal(stamps.read(), s, `${what} leaves the stamp`);

      const ann = await createUser(db, 'ann');
      changed('an insert');
      await getUser(db, 'ann');
      await userWithNames(db, 'ann');
      await sql`select count(*) from users`.execute(db);
      same('reads (built, compiled once, raw)');
      await db.updateTable('users').set({ admin: 1 }).where('id', '=', ann.id).execute();
      changed('an update');
      await sql`update users set last_activity = 'x' where id = ${ann.id}`.execute(db);
      changed('a raw update');
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('users').where('id', '=', ann.id).execute();
      });
      changed('a delete in a transaction');
      const other = new SQLite(path.join(dir, 'db.sqlite'));
      try {
        other.prepare("insert into users (name, admin, created) values ('bob', 0, '2026-01-01T00:00:00Z')").run();
      } finally {
        other.close();
      }
      // another connection's commit is seen once OTHER_WRITERS_CHECK_MS have passed (test/unit/change-stamp.test.ts)
      await new Promise((r) => setTimeout(r, OTHER_WRITERS_CHECK_MS + 10));
      changed("another connection's commit");
      same('nothing');
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not exist on PostgreSQL-like stores it cannot watch', async () => {
    const { Kysely, SqliteDialect } = await import('kysely');
    const plain = new Kysely({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    assert.equal(changeStampOf(plain as never), undefined, 'a database not opened by openDatabase has no stamp: nothing is cached');
    await plain.destroy();
  });
});
