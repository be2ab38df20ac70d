import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  findOperation,
  repoRoot,
  specAvailable,
  specDocument,
  specOperations,
  validateRequestBody,
  validateResponse,
} from '../helpers/openapi.js';
import { scopeDefinitions } from '../../src/rbac/scopes.js';

const skip = specAvailable ? false : '../shared/specs not found';
const JSON_CT = 'application/json; charset=UTF-8';

/** A user model as JupyterHub 5.5 sends it for a user without a running server. */
const idleUser = {
  kind: 'user',
  name: 'alice',
  admin: false,
  roles: ['user'],
  groups: ['staff'],
  server: null,
  pending: null,
  created: '2025-01-02T03:04:05.123456Z',
  last_activity: null,
  servers: {},
};

const runningUser = {
  ...idleUser,
  server: '/user/alice/',
  last_activity: '2025-01-02T03:04:05.123456Z',
  servers: {
    '': {
      name: '',
      ready: true,
      stopped: false,
      pending: null,
      url: '/user/alice/',
      progress_url: '/hub/api/users/alice/server/progress',
      full_url: null,
      full_progress_url: null,
      started: '2025-01-02T03:04:05.123456Z',
      last_activity: '2025-01-02T03:04:05.123456Z',
      state: null,
      user_options: {},
    },
  },
};

const token = {
  id: 'a12',
  kind: 'api_token',
  user: 'alice',
  roles: [],
  scopes: ['read:users!user=alice'],
  note: 'test',
  created: '2025-01-02T03:04:05.123456Z',
  expires_at: null,
  last_activity: null,
  session_id: null,
  oauth_client: 'JupyterHub',
};

describe('validateResponse', { skip }, () => {
  test('valid user models pass (with the nulls JupyterHub sends)', () => {
    validateResponse('GET', '/hub/api/users/alice', 200, JSON.stringify(idleUser), JSON_CT);
    validateResponse('GET', '/hub/api/users/alice', 200, runningUser);
    validateResponse('GET', '/hub/api/users?offset=0', 200, [idleUser, runningUser], JSON_CT);
    validateResponse('POST', '/hub/api/users/bob', 201, { ...idleUser, name: 'bob' }, JSON_CT);
  });

  test('a wrong type fails, naming the field', () => {
    assert.throws(
      () => validateResponse('GET', '/hub/api/users/alice', 200, { ...idleUser, admin: 'yes' }, JSON_CT),
      (e: Error) => /\/admin must be boolean/.test(e.message) && /GET \/users\/\{name\}/.test(e.message),
    );
    assert.throws(() => validateResponse('GET', '/hub/api/users', 200, { ...idleUser }, JSON_CT), /must be array/);
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 200, { ...idleUser, pending: 'start' }, JSON_CT), /pending/);
  });

  test('a bad date-time fails', () => {
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 200, { ...idleUser, last_activity: 'yesterday' }, JSON_CT), /date-time/);
  });

  test('an undocumented path or method fails', () => {
    assert.throws(() => validateResponse('GET', '/hub/api/nope', 200, {}, JSON_CT), /path is not in the JupyterHub 5\.5\.1 spec/);
    assert.throws(() => validateResponse('PUT', '/hub/api/users/alice', 200, idleUser, JSON_CT), /method not in the spec \(documented: GET, POST, DELETE, PATCH\)/);
    assert.throws(() => validateResponse('GET', '/users/alice', 200, idleUser, JSON_CT), /not under \/hub\/api/);
    // Not in the 5.5.1 spec, although JupyterHub serves it:
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice/server/progress', 200, '', 'text/event-stream'), /not in the/);
  });

  test('status checks', () => {
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 201, idleUser, JSON_CT), /status 201 is not documented \(documented: 200\)/);
    // undocumented error statuses: accepted with JupyterHub's error body …
    validateResponse('GET', '/hub/api/users/zed', 404, '{"status": 404, "message": "Not Found"}', JSON_CT);
    // … but not with another shape, a mismatching status, or in strict mode
    assert.throws(() => validateResponse('GET', '/hub/api/users/zed', 404, { error: 'nope' }, JSON_CT), /status, message/);
    assert.throws(() => validateResponse('GET', '/hub/api/users/zed', 404, { status: 403, message: 'x' }, JSON_CT), /says status 403/);
    assert.throws(
      () => validateResponse('GET', '/hub/api/users/zed', 404, { status: 404, message: 'x' }, JSON_CT, { strictStatus: true }),
      /status 404 is not documented/,
    );
    // documented error without a schema: the JupyterHub error shape is still checked
    validateResponse('POST', '/hub/api/users/alice/tokens', 403, { status: 403, message: 'Requested role does not exist' }, JSON_CT);
  });

  test('bodies without a JSON schema only get the status checked', () => {
    validateResponse('POST', '/hub/api/users/alice/server', 201, '', undefined);
    validateResponse('POST', '/hub/api/users/alice/servers/gpu', 202, '', 'text/html');
    validateResponse('POST', '/hub/api/users/alice/activity', 200, '', undefined);
    validateResponse('DELETE', '/hub/api/users/alice', 204, '', undefined);
    assert.throws(() => validateResponse('DELETE', '/hub/api/users/alice', 204, '{"x":1}', JSON_CT), /must have no body/);
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 200, '', JSON_CT), /expected a JSON body/);
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 200, '<html>', 'text/html'), /expected application\/json, got text\/html/);
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice', 200, '{bad', JSON_CT), /not valid JSON/);
  });

  test('tokens', () => {
    validateResponse('GET', '/hub/api/users/alice/tokens', 200, { api_tokens: [token] }, JSON_CT);
    validateResponse('GET', '/hub/api/users/alice/tokens/a12', 200, token, JSON_CT);
    validateResponse('POST', '/hub/api/users/alice/tokens', 201, { ...token, token: 'secret' }, JSON_CT);
    assert.throws(() => validateResponse('GET', '/hub/api/users/alice/tokens', 200, [token], JSON_CT), /must be object/);
  });

  test('GET /user (RequestIdentity) for a user and a service', () => {
    validateResponse('GET', '/hub/api/user', 200, { ...idleUser, scopes: ['read:users!user=alice'], session_id: null, token_id: 'a12' }, JSON_CT);
    validateResponse(
      'GET',
      '/hub/api/user',
      200,
      { kind: 'service', name: 'culler', admin: false, roles: [], scopes: [], session_id: null, token_id: null },
      JSON_CT,
    );
    assert.throws(() => validateResponse('GET', '/hub/api/user', 200, { ...idleUser, kind: 'robot', scopes: [] }, JSON_CT));
  });

  test('the pagination envelope is accepted where the spec has a plain list', () => {
    const page = {
      items: [idleUser],
      _pagination: { offset: 0, limit: 1, total: 2, next: { offset: 1, limit: 1, url: '/hub/api/users?offset=1&limit=1' } },
    };
    validateResponse('GET', '/hub/api/users?limit=1', 200, page, JSON_CT);
    validateResponse('GET', '/hub/api/groups', 200, { items: [], _pagination: { offset: 0, limit: 10, total: 0, next: null } }, JSON_CT);
    assert.throws(() => validateResponse('GET', '/hub/api/users', 200, { ...page, items: [{ name: 3 }] }, JSON_CT), /paginated items/);
    assert.throws(() => validateResponse('GET', '/hub/api/users', 200, { ...page, _pagination: { total: 'x' } }, JSON_CT), /_pagination/);
  });

  test('shares endpoints are always paginated', () => {
    validateResponse('GET', '/hub/api/shares/alice', 200, { items: [], _pagination: { offset: 0, limit: 200, total: 0, next: null } }, JSON_CT);
    assert.throws(() => validateResponse('GET', '/hub/api/shares/alice', 200, { items: 'x' }, JSON_CT), /items/);
  });

  test('root and info', () => {
    validateResponse('GET', '/hub/api', 200, { version: '5.5.1' }, JSON_CT);
    validateResponse('GET', 'http://127.0.0.1:8081/prefix/hub/api/', 200, { version: '5.5.1' }, JSON_CT);
    assert.throws(() => validateResponse('GET', '/hub/api/', 200, { version: 5 }, JSON_CT), /version must be string/);
  });
});

describe('findOperation', { skip }, () => {
  const cases: Array<[string, string, string, Record<string, string>]> = [
    ['GET', '/hub/api/', '/', {}],
    ['GET', '/hub/api/users/', '/users', {}],
    ['GET', '/hub/api/users/alice/tokens/a1?x=1', '/users/{name}/tokens/{token_id}', { name: 'alice', token_id: 'a1' }],
    ['DELETE', '/hub/api/users/alice/servers/', '/users/{name}/servers/{server_name}', { name: 'alice', server_name: '' }],
    ['GET', '/hub/api/shares/alice/', '/shares/{owner}/{server_name}', { owner: 'alice', server_name: '' }],
    ['GET', '/hub/api/users/a%40b.c', '/users/{name}', { name: 'a@b.c' }],
    ['GET', '/hub/api/authorizations/token/abc', '/authorizations/token/{token}', { token: 'abc' }],
    ['POST', '/hub/api/authorizations/token', '/authorizations/token', {}],
  ];
  for (const [method, url, template, params] of cases) {
    test(`${method} ${url}`, () => {
      const op = findOperation(method, url);
      assert.equal(op?.template, template);
      assert.deepEqual(op?.params, params);
    });
  }

  test('lists the 5.5.1 operations', () => {
    const ops = specOperations();
    assert.ok(ops.includes('GET /users/{name}'));
    assert.ok(ops.includes('POST /users/{name}/servers/{server_name}'));
    assert.ok(!ops.includes('GET /users/{name}/servers/{server_name}'), 'GET on a named server is new in 6.0');
  });
});

describe('validateRequestBody', { skip }, () => {
  test('documented bodies are checked', () => {
    validateRequestBody('POST', '/hub/api/users', { usernames: ['a', 'b'], admin: false });
    assert.throws(() => validateRequestBody('POST', '/hub/api/users', { usernames: 'a' }), /usernames must be array/);
    assert.throws(() => validateRequestBody('POST', '/hub/api/users', undefined), /a body is required/);
    validateRequestBody('POST', '/hub/api/users/alice/tokens', undefined);
    validateRequestBody('POST', '/hub/api/users/alice/tokens', '{"scopes": ["read:users"], "expires_in": 60}');
    assert.throws(() => validateRequestBody('POST', '/hub/api/users/alice/tokens', { expires_in: 'soon' }), /expires_in/);
  });

  test('form-encoded oauth token request', () => {
    const form = 'client_id=c&client_secret=s&grant_type=authorization_code&code=x&redirect_uri=%2Fuser%2Falice%2Foauth_callback';
    validateRequestBody('POST', '/hub/api/oauth2/token', form, 'application/x-www-form-urlencoded');
    assert.throws(
      () => validateRequestBody('POST', '/hub/api/oauth2/token', 'client_id=c&grant_type=password', 'application/x-www-form-urlencoded'),
      /required property/,
    );
    assert.throws(() => validateRequestBody('POST', '/hub/api/oauth2/token', { client_id: 'c' }, 'application/json'), /not documented/);
  });

  test('operations without a documented body are not checked', () => {
    validateRequestBody('POST', '/hub/api/users/alice', { admin: true });
  });
});

describe('spec and scope table agree', { skip }, () => {
  test('the oauth2 scopes in the spec are exactly our scope definitions', () => {
    const doc = specDocument() as { components: { securitySchemes: { oauth2: { flows: { authorizationCode: { scopes: Record<string, string> } } } } } };
    const specScopes = Object.keys(doc.components.securitySchemes.oauth2.flows.authorizationCode.scopes).sort();
    // plus Ganymede's own scopes, which JupyterHub's spec cannot list
    const ganymedeOnly = ['read:audit'];
    assert.deepEqual(specScopes, Object.keys(scopeDefinitions).filter((s) => !ganymedeOnly.includes(s)).sort());
  });

  test('every scope an operation requires is defined', () => {
    const doc = specDocument() as { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const req of op.security ?? []) {
          for (const scope of req.oauth2 ?? []) assert.ok(scope in scopeDefinitions, `${method} ${path}: ${scope}`);
        }
      }
    }
  });
});

test('without the spec: a notice once, and no validation', () => {
  const script = [
    "const m = await import('./test/helpers/openapi.ts');",
    'if (m.specAvailable) throw new Error("spec should be absent");',
    "m.validateResponse('GET', '/hub/api/nope', 999, 'garbage');",
    "m.validateResponse('GET', '/hub/api/nope', 999, 'garbage');",
    "m.validateRequestBody('POST', '/hub/api/users', 1);",
  ].join('\n');
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, GANYMEDE_JH_SPEC: '/nonexistent/jupyterhub-rest-api-5.5.1.yml' },
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, res.stderr);
  const notices = res.stderr.split('\n').filter((l) => l.startsWith('NOTICE:'));
  assert.deepEqual(notices, ['NOTICE: ../shared/specs not found; API responses are not validated against the JupyterHub 5.5.1 spec']);
});
