/**
 * Issue 9, items 1.1 and 1.2: a server's working directory is built from its
 * injective key under `server-dirs/`, never outside it, and a hub upgraded from
 * the old `servers/<user>[--<server>]` layout loses nothing and leaks nothing.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVER_DIRS, serverWorkDir } from '../../src/hub/work-dir.js';

describe('server working directories (issue 9, 1.1 and 1.2)', () => {
  let data: string;
  beforeEach(() => {
    data = mkdtempSync(path.join(os.tmpdir(), 'ganymede-workdir-'));
  });
  afterEach(() => rmSync(data, { recursive: true, force: true }));

  const legacy = (name: string, file: string, text: string) => {
    mkdirSync(path.join(data, 'servers', name), { recursive: true });
    writeFileSync(path.join(data, 'servers', name, file), text);
  };

  it('gives each (user, server) pair its own directory inside server-dirs/', async () => {
    const dirs = new Set<string>();
    for (const [u, s] of [['ka-b', ''], ['ka', 'b'], ['ka--b', ''], ['ka-2db', ''], ['alice', ''], ['alice', 'gpu'], ['.x', ''], ['x', '.']] as const) {
      const dir = await serverWorkDir(data, u, s);
      assert.equal(path.dirname(dir), path.join(data, SERVER_DIRS), `${u}/${s}: ${dir}`);
      assert.ok(existsSync(dir));
      dirs.add(dir);
    }
    assert.equal(dirs.size, 8);
  });

  it('keeps even names the rules refuse inside server-dirs/ (serverKey escapes "/" and a leading ".")', async () => {
    for (const [u, s] of [['..', ''], ['.', ''], ['../..', ''], ['a', '..']] as const) {
      const dir = await serverWorkDir(data, u, s);
      assert.equal(path.dirname(dir), path.join(data, SERVER_DIRS), dir);
    }
    assert.ok(!existsSync(path.join(data, 'servers')), 'nothing made outside server-dirs/');
  });

  it('moves an old servers/<user> directory to its new place when it can only have been that user\'s', async () => {
    legacy('ka-b', 'notes.txt', 'mine');
    legacy('alice', 'notes.txt', 'alice');
    const dir = await serverWorkDir(data, 'ka-b', '');
    assert.equal(readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine');
    assert.ok(!existsSync(path.join(data, 'servers', 'ka-b')));
    assert.equal(readFileSync(path.join(await serverWorkDir(data, 'alice', ''), 'notes.txt'), 'utf8'), 'alice');
    // the second start finds the moved directory
    assert.equal(readFileSync(path.join(await serverWorkDir(data, 'ka-b', ''), 'notes.txt'), 'utf8'), 'mine');
  });

  it('never hands an old directory to a server whose key merely spells its name', async () => {
    legacy('ka-2db', 'secret.txt', 'belongs to user ka-2db'); // the key of user ka-b
    legacy('ka--b', 'secret.txt', 'shared by ka--b and ka/b before the fix');
    for (const [u, s] of [['ka-b', ''], ['ka', 'b'], ['ka--b', '']] as const) {
      const dir = await serverWorkDir(data, u, s);
      assert.ok(!existsSync(path.join(dir, 'secret.txt')), `${u}/${s} got someone else's files`);
    }
    assert.ok(existsSync(path.join(data, 'servers', 'ka--b', 'secret.txt')), 'an ambiguous old directory stays for the administrator');
    const own = await serverWorkDir(data, 'ka-2db', '');
    assert.equal(readFileSync(path.join(own, 'secret.txt'), 'utf8'), 'belongs to user ka-2db');
  });

  it('does not follow an old entry that is a symbolic link', async () => {
    mkdirSync(path.join(data, 'servers'), { recursive: true });
    symlinkSync('/', path.join(data, 'servers', 'bob'));
    const dir = await serverWorkDir(data, 'bob', '');
    assert.ok(!existsSync(path.join(dir, 'etc')));
  });
});
