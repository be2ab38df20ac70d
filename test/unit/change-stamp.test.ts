import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { SqliteChangeWatch } from '../../src/db/change-stamp.js';

describe('SqliteChangeWatch: the change stamp of the response cache', () => {
  it("changes at once with this connection's writes, and with another connection's commits once the check interval has passed", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stamp-'));
    try {
      const file = path.join(dir, 'db.sqlite');
      const mine = new SQLite(file);
      const other = new SQLite(file);
      mine.exec('create table t (x integer)');
      let now = 1000;
      const watch = new SqliteChangeWatch(mine, 50, () => now);
      const first = watch.read();
      watch.bump();
      assert.notEqual(watch.read(), first, "this process's write: a new stamp at once");

      const before = watch.read();
      other.prepare('insert into t values (1)').run();
      now += 10;
      assert.equal(watch.read(), before, 'within the interval the other connection is not asked');
      now += 50;
      assert.notEqual(watch.read(), before, 'past the interval its commit changes the stamp');
      const settled = watch.read();
      now += 100;
      assert.equal(watch.read(), settled, 'nothing written since: the same stamp');
      mine.close();
      other.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
