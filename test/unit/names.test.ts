/**
 * Issue 9, item 1.1: the name rules (src/lib/names.ts), the message quoting of
 * names (src/lib/quote-name.ts) and the two containment checks
 * (src/lib/path-inside.ts, src/lib/route-path.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { groupNameProblem, quotePath, serverNameProblem, usernameProblem } from '../../src/lib/names.js';
import { quoteName, QUOTED_NAME_MAX } from '../../src/lib/quote-name.js';
import { pathInside } from '../../src/lib/path-inside.js';
import { dotSegmentIn } from '../../src/lib/route-path.js';
import { ChpClient } from '../../src/proxy/chp-client.js';
import { validateConfig } from '../../src/config/load.js';

const ACCEPTED = [
  'alice',
  'ka-b',
  'ka--b',
  'john_doe',
  'a.b',
  '.hidden',
  'a..b',
  '...a',
  'alice@example.com',
  '~bob',
  'a+b',
  'a:b',
  'a?b',
  'a#b',
  'a b',
  "o'brien(1)*!",
  'ünïcödé',
  'δοκιμή',
  '用户',
  '😀',
  'x'.repeat(255),
];

/** [name, what the message must say] */
const REFUSED: [string, RegExp][] = [
  ['.', /only of dots/],
  ['..', /only of dots/],
  ['...', /only of dots/],
  ['.....', /only of dots/],
  ['%2e', /"%"/],
  ['%2e%2e', /"%"/],
  ['%2E%2e', /"%"/],
  ['.%2e', /"%"/],
  ['%2e.', /"%"/],
  ['%252e%252e', /"%"/],
  ['%25252e', /"%"/],
  ['a%2fb', /"%"/],
  ['a%2Fb', /"%"/],
  ['a%5cb', /"%"/],
  ['%', /"%"/],
  ['100%', /"%"/],
  ['a/b', /separator/],
  ['/', /separator/],
  ['../x', /separator/],
  ['a\\b', /separator/],
  ['\\', /separator/],
  ['..\\..', /separator/],
  // compatibility forms that NFKC turns into dots, separators or "%"
  ['．', /only of dots.*compatibility form/],
  ['．．', /only of dots.*compatibility form/],
  ['\u2024\u2024', /only of dots/],
  ['\u2025', /only of dots/],
  ['\ufe52\ufe52', /only of dots/],
  ['a／b', /separator.*compatibility form/],
  ['a＼b', /separator/],
  ['a\ufe68b', /separator/],
  ['\u2100', /path separator.*"a\/c"/],
  ['a％2e', /"%"/],
  ['\ufe6a2e', /"%"/],
  // characters URL parsers delete, logs split on, or that reorder displayed text
  ['.\t.', /control/],
  ['a\nb', /control/],
  ['a\rb', /control/],
  ['a\u0000b', /control/],
  ['a\u007fb', /control/],
  ['a\u0085b', /control/],
  ['a\u001b[31mb', /control/],
  ['a\u2028b', /control/],
  ['a\u2029b', /control/],
  ['a\u202eb', /bidirectional/],
  ['a\u2066b', /bidirectional/],
  ['a\u200fb', /bidirectional/],
  ['a\ud800b', /lone surrogate/],
  ['\udc00', /lone surrogate/],
  [' alice', /white space/],
  ['alice ', /white space/],
  ['alice\u00a0', /white space/],
  ['\u3000alice', /white space/],
  ['x'.repeat(256), /at most 255/],
];

describe('name rules (issue 9, 1.1)', () => {
  it('accepts ordinary names, for users, servers and groups', () => {
    for (const name of ACCEPTED) {
      assert.equal(usernameProblem(name), null, `user ${JSON.stringify(name)}`);
      assert.equal(serverNameProblem(name), null, `server ${JSON.stringify(name)}`);
      assert.equal(groupNameProblem(name), null, `group ${JSON.stringify(name)}`);
    }
    assert.equal(serverNameProblem(''), null, 'the default server');
  });

  it('refuses dot segments, separators, percent-encoded and look-alike forms, controls and long names, for users, servers and groups', () => {
    for (const [name, why] of REFUSED) {
      for (const [kind, problem] of [
        ['user name', usernameProblem(name)],
        ['server name', serverNameProblem(name)],
        ['group name', groupNameProblem(name)],
      ] as const) {
        assert.ok(problem, `${kind} ${JSON.stringify(name)} must be refused`);
        assert.match(problem, why, `${kind} ${JSON.stringify(name)}`);
        assert.ok(problem.includes(kind), `the message names the kind: ${problem}`);
      }
    }
    assert.match(usernameProblem('')!, /must not be empty/);
    assert.match(groupNameProblem('')!, /must not be empty/);
  });

  it('never gives a name whose quoted URL segment is a dot segment or has a separator', () => {
    for (const name of ACCEPTED) {
      const seg = quotePath(name);
      assert.equal(dotSegmentIn(`/user/${seg}/`), undefined, name);
      assert.equal(new URL(`/user/${seg}/x`, 'http://h').pathname, `/user/${seg}/x`, `the WHATWG parser keeps /user/${seg}/`);
    }
  });

  it('quotes path segments as JupyterHub (Python quote with safe "@~")', () => {
    assert.equal(quotePath("a!b*c(d)e'f~g@h.i-j_k"), 'a%21b%2Ac%28d%29e%27f~g@h.i-j_k');
    assert.equal(quotePath('a b/c%d?e#f'), 'a%20b%2Fc%25d%3Fe%23f');
    assert.equal(quotePath('é'), '%C3%A9');
  });

  it('clips and escapes a huge name with newlines and escape codes in every message', () => {
    const huge = `evil\n\u001b[2J${'x'.repeat(1024 * 1024)}`;
    const problem = usernameProblem(huge)!;
    assert.ok(problem.length < 200, problem.slice(0, 300));
    const withNewline = usernameProblem(`a\nb${'y'.repeat(100)}`)!;
    assert.ok(!/\p{Cc}/u.test(withNewline), withNewline);
    assert.ok(withNewline.length < 250, withNewline);
    const q = quoteName(huge);
    assert.ok(!/\p{Cc}/u.test(q));
    assert.match(q, /^"evil\\u\{a\}\\u\{1b\}\[2Jx+…" \(1048585 characters\)$/);
    assert.equal([...q.slice(1, q.indexOf('…'))].filter((c) => c === 'x').length, QUOTED_NAME_MAX - 9, "64 code points: evil, two escapes, [2J and x");
    assert.equal(quoteName('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(quoteName('a\u202eb\u2028\ud800'), '"a\\u{202e}b\\u{2028}\\u{d800}"');
    assert.equal(quoteName('用户😀'), '"用户😀"');
  });
});

describe('containment checks (issue 9, 1.1)', () => {
  const base = path.resolve('/data/servers');

  it('pathInside returns paths strictly inside the base and refuses the rest', () => {
    assert.equal(pathInside(base, 'alice'), path.join(base, 'alice'));
    assert.equal(pathInside(base, 'a', 'b'), path.join(base, 'a', 'b'));
    assert.equal(pathInside(base, '..a'), path.join(base, '..a'));
    assert.equal(pathInside('/data/servers/', 'x/../y'), path.join(base, 'y'));
    for (const parts of [['..'], ['.'], [''], ['../servers2'], ['a', '..', '..'], ['/etc'], ['..', 'cookie_secret'], ['a/../../b'], ['a\0b']]) {
      assert.throws(() => pathInside(base, ...parts), (err: Error & { status?: number }) => err.status === 400 && /outside/.test(err.message), JSON.stringify(parts));
    }
  });

  it('dotSegmentIn finds dot segments in every encoding the URL parser or a double-decoding server resolves', () => {
    for (const p of ['/user/../', '/user/./', '/user/%2e%2e/', '/user/%2E%2e/', '/user/.%2e/', '/user/%2e/', '/user/%252e%252e/', '/user/%25252E/', '/user/..\\x', '/user/a\\..\\', '/user/.\t./', '/user/%2e%0a%2e/', '/user/a%2fb/', '/user/a%5Cb/', '/user/a%252fb/', '/user/%2e%zz/..']) {
      assert.notEqual(dotSegmentIn(p), undefined, p);
    }
    for (const p of ['/', '/user/alice/', '/user/.../', '/user/a.b/', '/user/..a/', '/user/%2e%2e%2e/', '/user/%zz/', '/user/%C3%A9/']) {
      assert.equal(dotSegmentIn(p), undefined, p);
    }
  });

  it('the proxy client refuses to add or delete a route with a dot segment, before any request', async () => {
    const client = new ChpClient({ apiUrl: 'http://127.0.0.1:9', authToken: 'x', timeoutMs: 100 });
    for (const spec of ['/user/../', '/user/%2e%2e/', '/user/alice/%2E/']) {
      await assert.rejects(client.addRoute(spec, 'http://127.0.0.1:1', {}), /Refusing the route/);
      await assert.rejects(client.deleteRoute(spec), /Refusing the route/);
    }
  });
});

describe('names in the config (issue 9, 1.1)', () => {
  it('reports every bad name with its option', () => {
    assert.throws(() => validateConfig({ admin_users: ['ok', '..'] }), /config: admin_users\[1\]: invalid user name "\.\."/);
    assert.throws(() => validateConfig({ allowed_users: ['%2e%2e'] }), /config: allowed_users\[0\]: invalid user name "%2e%2e"/);
    assert.throws(() => validateConfig({ blocked_users: ['a/b'] }), /config: blocked_users\[0\]:.*separator/);
    assert.throws(() => validateConfig({ roles: [{ name: 'r', users: ['fine', '．．'] }] }), /config: roles\[0\]\.users\[1\]/);
    assert.throws(() => validateConfig({ roles: [{ name: 'r', groups: ['..'] }] }), /config: roles\[0\]\.groups\[0\]: invalid group name/);
    assert.throws(
      () => validateConfig({ admin_users: ['.'], allowed_users: ['a\\b'] }),
      (err: Error) => /admin_users\[0\]/.test(err.message) && /allowed_users\[0\]/.test(err.message),
      'all bad names at once',
    );
    assert.doesNotThrow(() => validateConfig({ admin_users: ['Alice', 'bob@example.com'], roles: [{ name: 'r', users: ['ka-b'], groups: ['team.a'] }] }));
  });

  it('refuses user names that pass for another: compatibility forms, invisible characters, mixed Latin/Cyrillic/Greek', () => {
    for (const name of ['\u212Aate', '\u212Bsa', '\uFF4Bate', '\u{1D424}ate', 'ka\uFB01', 'kate\u200B', '\u00ADkate', 'ka\u2060te', '\uFEFFkate', 'k\u200Date', 'k\u0430te', '\u03BAate', 'jose\u0301']) {
      assert.ok(usernameProblem(name), JSON.stringify(name));
    }
    for (const name of ['kate', 'josé', 'δοκιμή', 'иван', '山田たろう', 'ab-c_d.e@f', 'x1']) assert.equal(usernameProblem(name), null, name);
  });
});

