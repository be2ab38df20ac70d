import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { FirecrestSpawnerSchema, type FirecrestSpawnerConfig } from '../../src/spawners/firecrest/firecrest-config.js';
import type { FirecrestPartition, FirecrestUserInfo } from '../../src/spawners/firecrest/firecrest-api.js';
import { FirecrestForm, jobChoices, type FirecrestFormSources } from '../../src/spawners/firecrest/firecrest-form.js';
import { FIRECREST_OPTION_KEYS, isImageReference } from '../../src/spawners/firecrest/firecrest-form-rules.js';
import { hoursToRuntime, runtimeToHours } from '../../src/spawners/firecrest/firecrest-runtime.js';
import { ConfigError, HubError } from '../../src/lib/errors.js';

/** A `kind: firecrest` back-end's options with defaults filled, as the config loader gives them. */
function config(over: Record<string, unknown> = {}): FirecrestSpawnerConfig {
  const raw = { kind: 'firecrest', firecrest_url: 'https://f7t.example/v2', system: 'daint', ...over };
  const filled = Value.Default(FirecrestSpawnerSchema, Value.Clone(raw));
  assert.ok(Value.Check(FirecrestSpawnerSchema, filled), JSON.stringify([...Value.Errors(FirecrestSpawnerSchema, filled)].map((e) => `${e.path}: ${e.message}`)));
  return filled as FirecrestSpawnerConfig;
}

const ENVIRONMENTS = [
  { name: 'jupyterlab', display_name: 'JupyterLab 4.3', description: 'The JupyterLab uenv', uenv: 'jupyterlab/4.3:v1', view: 'default' },
  { name: 'prgenv-gnu', display_name: 'GNU programming environment', uenv: 'prgenv-gnu/24.11:v1', mount: '/user-environments', view: 'default', default: true },
  { name: 'pytorch', display_name: 'PyTorch container', image: 'nvcr.io/nvidia/pytorch:24.01-py3' },
];
const CSCS = config({ form: { max_nodes: 4, max_runtime_hours: 12, environments: ENVIRONMENTS, custom_environment: true } });

const ALICE: FirecrestUserInfo = {
  user: { id: '1001', name: 'alice' },
  group: { id: '1001', name: 'alice' },
  groups: [{ id: '1001', name: 'alice' }],
  accounts: [
    { name: 'csstaff', default: false },
    { name: 'proj1', default: true },
  ],
};
const PARTITIONS: FirecrestPartition[] = [{ name: 'normal', state: 'UP' }, { name: 'debug', state: 'UP' }, { name: 'xfer', state: 'DOWN' }, { name: 'gpu' }];

/** Fake sources that count their calls. */
function sources(info: FirecrestUserInfo = ALICE, partitions: FirecrestPartition[] = PARTITIONS): FirecrestFormSources & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    userinfo: () => {
      calls.push('userinfo');
      return Promise.resolve(structuredClone(info));
    },
    partitions: () => {
      calls.push('partitions');
      return Promise.resolve(structuredClone(partitions));
    },
  };
}

/** The status and message of what `fn` rejects with (a HubError). */
async function refusal(fn: () => Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof HubError, `not a HubError: ${String(err)}`);
    return { status: err.status, message: err.message };
  }
  assert.fail('expected a refusal');
}

const form = new FirecrestForm(CSCS, 'daint');

describe('FirecrestForm.check: good values', () => {
  const good: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['nothing given: req_nnodes and req_runtime', {}, { nnodes: 1, runtime: 1 }],
    ['null and "" count as absent', { account: null, partition: '', nnodes: null }, { nnodes: 1, runtime: 1 }],
    ['an account of the user', { account: 'csstaff' }, { account: 'csstaff', nnodes: 1, runtime: 1 }],
    ['a partition that is up', { partition: 'debug' }, { partition: 'debug', nnodes: 1, runtime: 1 }],
    ['a partition with no state', { partition: 'gpu' }, { partition: 'gpu', nnodes: 1, runtime: 1 }],
    ['nnodes 1 (lower edge)', { nnodes: 1 }, { nnodes: 1, runtime: 1 }],
    ['nnodes max_nodes (upper edge)', { nnodes: 4 }, { nnodes: 4, runtime: 1 }],
    ['runtime max_runtime_hours (upper edge)', { runtime: 12 }, { nnodes: 1, runtime: 12 }],
    ['runtime just above 0', { runtime: 0.01 }, { nnodes: 1, runtime: 0.01 }],
    ['a reservation word', { reservation: 'course_2026-12' }, { reservation: 'course_2026-12', nnodes: 1, runtime: 1 }],
    ['a configured environment', { environment: 'pytorch' }, { environment: 'pytorch', nnodes: 1, runtime: 1 }],
    ['a custom uenv', { environment: 'custom', custom_environment: 'netcdf/4.9:v2' }, { environment: 'custom', custom_environment: 'netcdf/4.9:v2', nnodes: 1, runtime: 1 }],
    ['custom_environment alone means custom', { custom_environment: 'netcdf/4.9:v2' }, { environment: 'custom', custom_environment: 'netcdf/4.9:v2', nnodes: 1, runtime: 1 }],
    [
      'everything',
      { account: 'proj1', partition: 'normal', nnodes: 2, runtime: 1.5, reservation: 'r1', environment: 'jupyterlab' },
      { account: 'proj1', partition: 'normal', nnodes: 2, runtime: 1.5, reservation: 'r1', environment: 'jupyterlab' },
    ],
  ];
  for (const [name, options, expected] of good) {
    it(name, async () => {
      assert.deepEqual(await form.check(options, sources()), expected);
    });
  }

  it('asks FirecREST only for what was given, each once, in parallel', async () => {
    const none = sources();
    await form.check({ nnodes: 2, environment: 'jupyterlab' }, none);
    assert.deepEqual(none.calls, []);
    const both = sources();
    await form.check({ account: 'proj1', partition: 'normal' }, both);
    assert.deepEqual(both.calls.sort(), ['partitions', 'userinfo']);
  });

  it('without accounts in userinfo, the primary group is the only account', async () => {
    const noAccounts = { ...ALICE, group: { id: '5', name: 'g-alice' }, accounts: null };
    assert.equal((await form.check({ account: 'g-alice' }, sources(noAccounts))).account, 'g-alice');
    const r = await refusal(() => form.check({ account: 'proj1' }, sources(noAccounts)));
    assert.equal(r.message, 'account "proj1" is not one of your accounts on daint: g-alice');
  });
});

describe('FirecrestForm.check: every refusal names its field', () => {
  const bad: Array<[string, Record<string, unknown>, string, RegExp?]> = [
    ['an unknown key', { queue: 'x' }, 'Unknown option "queue"', /accepts: account, partition, nnodes, runtime, reservation, environment, custom_environment/],
    ['the back-end choice (the hub strips it first)', { backend: 'daint' }, 'Unknown option "backend"'],
    ['nnodes 0 (below the edge)', { nnodes: 0 }, 'nnodes', /from 1 to 4, got 0/],
    ['nnodes max+1 (above the edge)', { nnodes: 5 }, 'nnodes', /from 1 to 4, got 5/],
    ['nnodes not whole', { nnodes: 1.5 }, 'nnodes', /whole number/],
    ['nnodes as a string', { nnodes: '2' }, 'nnodes', /got the string "2"/],
    ['nnodes as a list (firecrestspawner form style)', { nnodes: ['2'] }, 'nnodes', /got a list/],
    ['runtime 0', { runtime: 0 }, 'runtime', /above 0 and at most 12, got 0/],
    ['runtime negative', { runtime: -1 }, 'runtime', /above 0/],
    ['runtime just above the maximum', { runtime: 12.001 }, 'runtime', /at most 12, got 12.001/],
    ['runtime infinite', { runtime: Infinity }, 'runtime', /got Infinity/],
    ['runtime as HH:MM:SS text', { runtime: '01:00:00' }, 'runtime', /got the string/],
    ['an account of someone else', { account: 'proj9' }, 'account "proj9" is not one of your accounts on daint: csstaff, proj1'],
    ['an account that is no string', { account: 42 }, 'account must be a string, got 42'],
    ['a partition FirecREST does not list', { partition: 'huge' }, 'partition "huge" is not offered on daint; usable: normal, debug, gpu'],
    ['a partition that is down', { partition: 'xfer' }, 'partition "xfer" cannot be used on daint now (DOWN); usable: normal, debug, gpu'],
    ['a reservation with a space', { reservation: 'a b' }, 'reservation "a b"', /one word/],
    ['a reservation with a newline', { reservation: 'a\n#SBATCH --x' }, 'reservation "a\\u{a}#SBATCH --x"'],
    ['an environment not configured', { environment: 'matlab' }, 'environment "matlab" is not offered on daint; choices: jupyterlab, prgenv-gnu, pytorch, custom'],
    ['environment custom without custom_environment', { environment: 'custom' }, 'custom_environment is required when environment is "custom"'],
    ['custom_environment with another environment', { environment: 'pytorch', custom_environment: 'netcdf/4.9:v2' }, 'custom_environment goes only with environment "custom", not "pytorch"'],
    ['custom_environment not matching the pattern', { custom_environment: 'a'.repeat(129) }, 'custom_environment "', /does not match \^\[A-Za-z0-9\]/],
    ['custom_environment naming a mount point', { custom_environment: 'evil:/etc' }, 'custom_environment "evil:/etc" must not name a mount point'],
    ['custom_environment as a list', { custom_environment: ['x'] }, 'custom_environment must be a string, got a list'],
  ];
  for (const [name, options, start, rest] of bad) {
    it(name, async () => {
      const r = await refusal(() => form.check(options, sources()));
      assert.equal(r.status, 400);
      assert.ok(r.message.startsWith(start), `${JSON.stringify(r.message)} should start with ${JSON.stringify(start)}`);
      if (rest) assert.match(r.message, rest);
    });
  }

  it('a body that is no object', async () => {
    const r = await refusal(() => form.check([] as unknown as Record<string, unknown>, sources()));
    assert.equal(r.status, 400);
  });

  it('custom_environment where none is offered', async () => {
    const plain = new FirecrestForm(config({ form: { environments: ENVIRONMENTS } }), 'daint');
    const r = await refusal(() => plain.check({ custom_environment: 'netcdf/4.9:v2' }, sources()));
    assert.equal(r.message, 'custom_environment is not offered on daint; pick an environment: jupyterlab, prgenv-gnu, pytorch');
    const e = await refusal(() => plain.check({ environment: 'custom' }, sources()));
    assert.match(e.message, /^environment "custom" is not offered/);
  });

  it('a loose pattern still refuses what is unsafe in a job script', async () => {
    const loose = new FirecrestForm(config({ form: { custom_environment: true, custom_environment_pattern: '.*' } }), 'daint');
    for (const value of ['a b', 'a;reboot', '$(id)', 'a`id`', "a'b", 'a"b', 'a\nb', 'a,b', '-x', 'a\\b', 'a|b', 'a&b', 'a>b', '../../etc', 'img:/etc', 'a\tb']) {
      const r = await refusal(() => loose.check({ custom_environment: value }, sources()));
      assert.equal(r.status, 400, value);
      assert.ok(r.message.startsWith('custom_environment "'), r.message);
    }
    assert.equal((await loose.check({ custom_environment: 'docker.io/library/ubuntu:24.04@sha256:ab12' }, sources())).custom_environment, 'docker.io/library/ubuntu:24.04@sha256:ab12');
  });

  it('a strict pattern is matched whole', async () => {
    const strict = new FirecrestForm(config({ form: { custom_environment: true, custom_environment_pattern: 'prgenv-[a-z]+/[0-9.]+' } }), 'daint');
    assert.equal((await strict.check({ custom_environment: 'prgenv-gnu/24.11' }, sources())).custom_environment, 'prgenv-gnu/24.11');
    for (const value of ['xprgenv-gnu/24.11', 'prgenv-gnu/24.11:v1']) {
      const r = await refusal(() => strict.check({ custom_environment: value }, sources()));
      assert.equal(r.message, `custom_environment "${value}" does not match prgenv-[a-z]+/[0-9.]+`);
    }
  });

  it("the sources' errors pass unchanged", async () => {
    const loginAgain = new HubError(401, 'Your login has expired: log in again.');
    const failing: FirecrestFormSources = { userinfo: () => Promise.reject(loginAgain), partitions: () => Promise.resolve(PARTITIONS) };
    await assert.rejects(form.check({ account: 'proj1' }, failing), (err) => err === loginAgain);
    await assert.rejects(form.render(failing, {}), (err) => err === loginAgain);
  });

  it('a configured partition list is intersected with FirecREST', async () => {
    const limited = new FirecrestForm(config({ form: { partitions: ['debug', 'gone'] } }), 'daint');
    assert.equal((await limited.check({ partition: 'debug' }, sources())).partition, 'debug');
    for (const p of ['normal', 'gone']) {
      const r = await refusal(() => limited.check({ partition: p }, sources()));
      assert.equal(r.message, `partition "${p}" is not offered on daint; usable: debug`);
    }
  });

  it('account names FirecREST sends that are unsafe are never accepted', async () => {
    const hostile = { ...ALICE, accounts: [{ name: 'ok1', default: true }, { name: 'p\n#SBATCH --uid=0', default: false }] };
    const r = await refusal(() => form.check({ account: 'p\n#SBATCH --uid=0' }, sources(hostile)));
    assert.equal(r.message, 'account "p\\u{a}#SBATCH --uid=0" is not one of your accounts on daint: ok1');
  });
});

describe('FirecrestForm: configuration', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a custom pattern that does not compile', { form: { custom_environment: true, custom_environment_pattern: '([a-z]' } }, 'spawners.daint.form.custom_environment_pattern: not a valid regular expression'],
    ['two environments of one name', { form: { environments: [{ name: 'a' }, { name: 'a' }] } }, 'spawners.daint.form.environments[1].name: "a" is used twice'],
    ['an environment named custom with custom on', { form: { custom_environment: true, environments: [{ name: 'custom' }] } }, 'spawners.daint.form.environments[0].name: "custom"'],
    ['req_runtime that is no time limit', { req_runtime: 'one hour' }, 'spawners.daint.req_runtime: "one hour" is not a time limit'],
    ['req_runtime above the maximum', { req_runtime: '13:00:00' }, 'spawners.daint.req_runtime: 13:00:00 is above form.max_runtime_hours'],
    ['default_runtime_hours above the maximum', { form: { default_runtime_hours: 24 } }, 'spawners.daint.form.default_runtime_hours: 24 is above'],
    ['req_nnodes above max_nodes', { req_nnodes: 8 }, 'spawners.daint.req_nnodes: 8 is above form.max_nodes (4)'],
  ];
  for (const [name, over, fragment] of cases) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => new FirecrestForm(config(over), 'daint'),
        (err: unknown) => err instanceof ConfigError && err.message.includes(fragment),
      );
    });
  }
  it('the pattern of an unused custom environment is still compiled', () => {
    assert.throws(() => new FirecrestForm(config({ form: { custom_environment_pattern: '(' } }), 'eiger'), /spawners\.eiger\.form\.custom_environment_pattern/);
  });
});

describe('FirecrestForm.fromForm', () => {
  const cases: Array<[string, Record<string, string | string[]>, Record<string, unknown>]> = [
    ['numbers parsed, texts kept', { account: 'proj1', partition: 'debug', nnodes: '2', runtime: '1.5', reservation: 'r1', environment: 'jupyterlab' }, { account: 'proj1', partition: 'debug', nnodes: 2, runtime: 1.5, reservation: 'r1', environment: 'jupyterlab' }],
    ['empty fields left out', { account: '', partition: '', nnodes: '', runtime: ' ', reservation: '' }, {}],
    ['spaces at either end dropped', { reservation: ' r1 ', nnodes: ' 3 ' }, { reservation: 'r1', nnodes: 3 }],
    ['a one-element list is its value', { nnodes: ['2'] }, { nnodes: 2 }],
    ['other keys ignored (another back-end, _xsrf)', { _xsrf: 'x', gpus: '2', nnodes: '1' }, { nnodes: 1 }],
    ['custom_environment kept with environment custom', { environment: 'custom', custom_environment: 'netcdf/4.9:v2' }, { environment: 'custom', custom_environment: 'netcdf/4.9:v2' }],
    ['custom_environment dropped with another environment', { environment: 'pytorch', custom_environment: 'netcdf/4.9:v2' }, { environment: 'pytorch' }],
    ['hostile text kept for check to refuse', { reservation: 'a\nb' }, { reservation: 'a\nb' }],
  ];
  for (const [name, posted, expected] of cases) {
    it(name, () => assert.deepEqual(form.fromForm(posted), expected));
  }
  const bad: Array<[string, Record<string, string | string[]>, string]> = [
    ['nnodes not a number', { nnodes: 'two' }, 'nnodes "two" is not a number'],
    ['runtime in HH:MM:SS', { runtime: '01:00:00' }, 'runtime "01:00:00" is not a number'],
    ['a field sent twice', { account: ['a', 'b'] }, 'account was sent more than once'],
  ];
  for (const [name, posted, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(() => form.fromForm(posted), (err: unknown) => err instanceof HubError && err.status === 400 && err.message === message);
    });
  }
});

/** The form controls of a fragment: name → {tag, value shown (the selected option, or the value attribute)}. */
function controls(fragment: string): Map<string, { tag: string; value: string; disabled: boolean; options: string[] }> {
  const out = new Map<string, { tag: string; value: string; disabled: boolean; options: string[] }>();
  const unescape = (s: string) => s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
  for (const m of fragment.matchAll(/<input ([^>]*)>/g)) {
    const attrs = m[1]!;
    const name = /name="([^"]*)"/.exec(attrs)![1]!;
    out.set(name, { tag: 'input', value: unescape(/value="([^"]*)"/.exec(attrs)?.[1] ?? ''), disabled: / disabled/.test(attrs), options: [] });
  }
  for (const m of fragment.matchAll(/<select name="([^"]*)"([^>]*)>(.*?)<\/select>/gs)) {
    const opts = [...m[3]!.matchAll(/<option value="([^"]*)"([^>]*)>/g)];
    const selected = opts.find((o) => / selected/.test(o[2]!)) ?? opts.find((o) => !/ disabled/.test(o[2]!));
    out.set(m[1]!, { tag: 'select', value: unescape(selected?.[1] ?? ''), disabled: / disabled/.test(m[2]!), options: opts.map((o) => unescape(o[1]!)) });
  }
  return out;
}

/** What a browser would post for the fragment as shown. */
function posted(fragment: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, c] of controls(fragment)) if (!c.disabled) out[name] = c.value;
  return out;
}

describe('FirecrestForm.render', () => {
  it('names its fields as fromForm reads them, and what it shows as posted passes check', async () => {
    const html = await form.render(sources(), {});
    assert.deepEqual([...controls(html).keys()].sort(), [...FIRECREST_OPTION_KEYS].sort());
    assert.doesNotMatch(html, /\bid="/, 'no ids: several back-ends share the spawn page');
    assert.doesNotMatch(html, /type="radio"/, 'no radio buttons: one name would be one group across the back-ends of the page');
    const options = form.fromForm(posted(html));
    assert.deepEqual(options, { account: 'proj1', nnodes: 1, runtime: 1, environment: 'prgenv-gnu' });
    assert.deepEqual(await form.check(options, sources()), { account: 'proj1', nnodes: 1, runtime: 1, environment: 'prgenv-gnu' });
  });

  it('shows the limits and defaults from config', async () => {
    const html = await form.render(sources(), {});
    assert.match(html, /<input type="number" name="nnodes" value="1" min="1" max="4" step="1" required>/);
    assert.match(html, /<input type="number" name="runtime" value="1" min="0.25" max="12" step="0.25" required>/);
    assert.match(html, /must match <code>\^\[A-Za-z0-9\]/, 'the custom pattern is shown');
    const c = controls(html);
    assert.deepEqual(c.get('account')!.options, ['csstaff', 'proj1']);
    assert.deepEqual(c.get('partition')!.options, ['', 'normal', 'debug', 'xfer', 'gpu']);
    assert.match(html, /<option value="xfer" disabled>xfer \(DOWN\)<\/option>/);
    assert.deepEqual(c.get('environment')!.options, ['jupyterlab', 'prgenv-gnu', 'pytorch', 'custom']);
    assert.match(html, /<strong>JupyterLab 4.3<\/strong>: The JupyterLab uenv<\/span>/);
  });

  it('preselects the previous values that are still valid', async () => {
    const previous = { account: 'csstaff', partition: 'debug', nnodes: 3, runtime: 2.5, reservation: 'r1', environment: 'custom', custom_environment: 'netcdf/4.9:v2', backend: 'daint' };
    const html = await form.render(sources(), previous);
    const options = form.fromForm(posted(html));
    assert.deepEqual(options, { account: 'csstaff', partition: 'debug', nnodes: 3, runtime: 2.5, reservation: 'r1', environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
  });

  it('ignores previous values that are no longer valid', async () => {
    const previous = { account: 'proj9', partition: 'xfer', nnodes: 9, runtime: 99, reservation: 'a b', environment: 'matlab', custom_environment: 'x;y' };
    const html = await form.render(sources(), previous);
    assert.deepEqual(form.fromForm(posted(html)), { account: 'proj1', nnodes: 1, runtime: 1, environment: 'prgenv-gnu' });
  });

  it('preselects req_account, else the default account, else the primary group', async () => {
    const withReq = new FirecrestForm(config({ req_account: 'csstaff' }), 'daint');
    assert.equal(posted(await withReq.render(sources(), {}))['account'], 'csstaff');
    assert.equal(posted(await form.render(sources(), {}))['account'], 'proj1');
    const noAccounts = { ...ALICE, group: { id: '5', name: 'g-alice' }, accounts: [] };
    const c = controls(await form.render(sources(noAccounts), {}));
    assert.deepEqual(c.get('account')!.options, ['g-alice']);
    assert.equal(c.get('account')!.value, 'g-alice');
  });

  it('offers only configured partitions FirecREST lists', async () => {
    const limited = new FirecrestForm(config({ form: { partitions: ['debug', 'gone'] }, req_partition: 'debug' }), 'daint');
    const html = await limited.render(sources(), {});
    assert.deepEqual(controls(html).get('partition')!.options, ['', 'debug']);
    assert.match(html, /<option value="" selected>Default \(debug\)<\/option>/);
    assert.ok(!controls(html).has('environment'), 'no environments configured: no choice');
    assert.ok(!controls(html).has('custom_environment'));
  });

  it('reads the state from the spec\'s `partition` field when `state` is absent', async () => {
    const specShaped = [{ name: 'normal', partition: ['UP'] }, { name: 'maint', partition: 'DRAIN' }, { name: 'old', partition: ['INACTIVE'] }] as unknown as FirecrestPartition[];
    const html = await form.render(sources(ALICE, specShaped), {});
    assert.match(html, /<option value="maint" disabled>maint \(DRAIN\)<\/option><option value="old" disabled>old \(INACTIVE\)<\/option>/);
    const r = await refusal(() => form.check({ partition: 'maint' }, sources(ALICE, specShaped)));
    assert.equal(r.message, 'partition "maint" cannot be used on daint now (DRAIN); usable: normal');
  });

  it('a custom environment without configured ones: none, or custom', async () => {
    const customOnly = new FirecrestForm(config({ form: { custom_environment: true } }), 'daint');
    const fresh = controls(await customOnly.render(sources(), {}));
    assert.deepEqual(fresh.get('environment')!.options, ['', 'custom']);
    assert.equal(fresh.get('environment')!.value, '');
    const again = await customOnly.render(sources(), { environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
    assert.deepEqual(customOnly.fromForm(posted(again)), { account: 'proj1', nnodes: 1, runtime: 1, environment: 'custom', custom_environment: 'netcdf/4.9:v2' });
  });

  it('a fragment without fields when FirecREST cannot answer, the message escaped', () => {
    const html = form.renderUnavailable(new HubError(503, 'FirecREST (system daint) is unavailable: <b>down</b>'));
    assert.equal(html, '<div class="error form-unavailable" role="alert">The options of daint cannot be shown now: FirecREST (system daint) is unavailable: &lt;b&gt;down&lt;/b&gt;</div>');
    assert.equal(controls(html).size, 0);
  });

  it('escapes hostile names from FirecREST and config', async () => {
    const evil = '"><script>alert(1)</script><x a=\'';
    const hostileInfo: FirecrestUserInfo = { user: { id: '1', name: evil }, group: { id: '1', name: evil }, groups: [], accounts: [{ name: evil, default: true }, { name: 'proj1', default: false }] };
    const hostileParts = [{ name: `p${evil}`, state: 'UP' }, { name: 'normal', state: `<b>${evil}` }] as FirecrestPartition[];
    const hostileConfig = config({
      system: 'daint',
      req_partition: evil,
      form: { custom_environment: true, custom_environment_pattern: `[a-z]+|${evil.replace(/[()]/g, '')}`, environments: [{ name: 'a', display_name: evil, description: evil }] },
    });
    const html = await new FirecrestForm(hostileConfig, 'daint').render(sources(hostileInfo, hostileParts), { reservation: evil, custom_environment: evil });
    assert.doesNotMatch(html, /<script|<x |<b>/);
    assert.ok(html.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;x a=&#39;'));
    const c = controls(html);
    assert.deepEqual(c.get('account')!.options, [evil, 'proj1'], 'the hostile name is shown escaped');
    assert.equal(c.get('account')!.value, 'proj1', 'but it cannot be picked');
    assert.match(html, /<option value="&quot;&gt;&lt;script[^"]*" disabled>/);
    assert.deepEqual(c.get('partition')!.options, ['', `p${evil}`, 'normal']);
  });
});

describe('jobChoices', () => {
  it('config defaults when the user chose nothing', () => {
    const cfg = config({ req_partition: 'normal', req_reservation: 'r0', req_constraint: 'gpu', form: { environments: ENVIRONMENTS } });
    assert.deepEqual(jobChoices(cfg, { nnodes: 1, runtime: 1 }, ALICE), {
      nnodes: 1,
      runtime: '01:00:00',
      account: 'proj1',
      partition: 'normal',
      reservation: 'r0',
      constraint: 'gpu',
      environment: 'prgenv-gnu',
      uenv: 'prgenv-gnu/24.11:v1:/user-environments',
      uenv_view: 'default',
    });
  });

  it('the choices win over the defaults', () => {
    const cfg = config({ req_partition: 'normal', req_account: 'csstaff', form: { environments: ENVIRONMENTS } });
    assert.deepEqual(jobChoices(cfg, { account: 'proj1', partition: 'debug', nnodes: 2, runtime: 0.75, reservation: 'r1', environment: 'jupyterlab' }, ALICE), {
      nnodes: 2,
      runtime: '00:45:00',
      account: 'proj1',
      partition: 'debug',
      reservation: 'r1',
      environment: 'jupyterlab',
      uenv: 'jupyterlab/4.3:v1:/user-tools',
      uenv_view: 'default',
    });
  });

  it('account: req_account, else the default account, else the primary group', () => {
    assert.equal(jobChoices(config({ req_account: 'csstaff' }), { nnodes: 1, runtime: 1 }, ALICE).account, 'csstaff');
    assert.equal(jobChoices(config(), { nnodes: 1, runtime: 1 }, ALICE).account, 'proj1');
    const noDefault = { ...ALICE, accounts: [{ name: 'csstaff', default: false }] };
    assert.equal(jobChoices(config(), { nnodes: 1, runtime: 1 }, noDefault).account, 'alice');
  });

  it('passes over unsafe account names from a hostile FirecREST', () => {
    const hostile = { ...ALICE, accounts: [{ name: 'p\n#SBATCH --uid=0', default: true }] };
    assert.equal(jobChoices(config(), { nnodes: 1, runtime: 1 }, hostile).account, 'alice');
    const noSafe = { ...hostile, group: { id: '1', name: 'g;reboot' } };
    assert.equal(jobChoices(config(), { nnodes: 1, runtime: 1 }, noSafe).account, undefined);
  });

  it('a container environment, and none configured', () => {
    const cfg = config({ form: { environments: ENVIRONMENTS } });
    const job = jobChoices(cfg, { nnodes: 1, runtime: 36, environment: 'pytorch' }, ALICE);
    assert.equal(job.container_image, 'nvcr.io/nvidia/pytorch:24.01-py3');
    assert.equal(job.uenv, undefined);
    assert.equal(job.runtime, '36:00:00');
    const bare = jobChoices(config(), { nnodes: 1, runtime: 1 }, ALICE);
    assert.equal(bare.environment, undefined);
    assert.equal(bare.uenv, undefined);
  });

  it('custom: a uenv at custom_environment_mount, or an image when it names a registry', () => {
    const uenv = jobChoices(CSCS, { nnodes: 1, runtime: 1, environment: 'custom', custom_environment: 'netcdf/4.9:v2' }, ALICE);
    assert.equal(uenv.uenv, 'netcdf/4.9:v2:/user-environments');
    assert.equal(uenv.environment, 'custom');
    assert.equal(uenv.container_image, undefined);
    const image = jobChoices(CSCS, { nnodes: 1, runtime: 1, environment: 'custom', custom_environment: 'docker.io/library/ubuntu:24.04' }, ALICE);
    assert.equal(image.container_image, 'docker.io/library/ubuntu:24.04');
    assert.equal(image.uenv, undefined);
  });

  it('tells images from uenvs', () => {
    for (const v of ['docker.io/library/ubuntu:24.04', 'localhost/img', 'localhost:5000/img:1', 'jfrog.svc.cscs.ch/a/b:1']) assert.ok(isImageReference(v), v);
    for (const v of ['prgenv-gnu/24.11:v1', 'netcdf', 'jupyterlab/4.3:v1', 'ubuntu:24.04']) assert.ok(!isImageReference(v), v);
  });
});

describe('run times', () => {
  it('hours to HH:MM:SS', () => {
    const cases: Array<[number, string]> = [[1, '01:00:00'], [1.5, '01:30:00'], [0.25, '00:15:00'], [36, '36:00:00'], [1 / 3600, '00:00:01'], [0.00001, '00:00:01'], [100, '100:00:00']];
    for (const [h, text] of cases) assert.equal(hoursToRuntime(h), text, String(h));
  });
  it('Slurm time limits to hours', () => {
    const cases: Array<[string, number | undefined]> = [['01:00:00', 1], ['1-00:00:00', 24], ['90', 1.5], ['00:30:00', 0.5], ['0', undefined], ['00:00:00', undefined], ['1:60:00', undefined], ['one', undefined], ['', undefined]];
    for (const [text, h] of cases) assert.equal(runtimeToHours(text), h, text);
  });
});
