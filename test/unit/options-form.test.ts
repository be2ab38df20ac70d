import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { OptionsForm, type FormFieldInput } from '../../src/spawners/options-form/options-form.js';
import { FormFieldSchema, FormFieldsSchema, RESERVED_FIELD_NAMES } from '../../src/spawners/options-form/form-config.js';
import { BRICS_FORM_FIELDS } from '../../src/spawners/options-form/brics-form-fields.js';
import { formSpawnerMethods } from '../../src/spawners/options-form/spawner-methods.js';
import { BACKEND_OPTION } from '../../src/spawners/backends.js';
import { ConfigError, HubError } from '../../src/lib/errors.js';
import { escapeHtml } from '../../src/lib/html-escape.js';
import type { OptionsContext } from '../../src/spawners/spawner.js';

/** carol's BriCS projects auth state, as the JWT-header login keeps it. */
const CAROL_PROJECTS = {
  'proj1.portal': { name: 'Project 1', username: 'carol.proj1' },
  'proj2.portal': { name: 'Project 2', username: 'carol.proj2' },
};
const carol: OptionsContext = { user: { name: 'carol', admin: false, groups: [] }, authState: CAROL_PROJECTS };

/** The BriCS form plus one field of each other kind and rule. */
const FIELDS: FormFieldInput[] = [
  ...BRICS_FORM_FIELDS,
  { name: 'memory_gb', label: 'Memory', type: 'number', min: 0.5, max: 8, step: 0.5 },
  { name: 'exclusive', label: 'Whole node', type: 'checkbox' },
  {
    name: 'qos',
    label: 'QoS',
    type: 'select',
    choices: [
      { value: 'normal', label: 'Normal' },
      { value: 'high', label: 'High' },
      { value: 'debug', label: 'Debug' },
    ],
    values_for_groups: { power: ['high'], staff: ['high', 'debug'] },
  },
];
const form = new OptionsForm(FIELDS);

/** The status and message of what `fn` throws (it must throw a HubError). */
function refusal(fn: () => unknown): { status: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HubError, `not a HubError: ${String(err)}`);
    return { status: err.status, message: err.message };
  }
  assert.fail('expected a refusal');
}

const BASE = { brics_project: 'proj1.portal' };
const DEFAULTS = { runtime: '01:00:00', ngpus: 1, exclusive: false };

describe('OptionsForm.check: good values', () => {
  const good: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['defaults fill what is missing', BASE, { ...BASE, ...DEFAULTS }],
    ['null and "" count as not given', { ...BASE, partition: '', ngpus: null }, { ...BASE, ...DEFAULTS }],
    ['another of the user\'s projects', { brics_project: 'proj2.portal' }, { brics_project: 'proj2.portal', ...DEFAULTS }],
    ['every runtime', { ...BASE, runtime: '08:00:00' }, { ...BASE, ...DEFAULTS, runtime: '08:00:00' }],
    ['GPUs at both ends', { ...BASE, ngpus: 4 }, { ...BASE, ...DEFAULTS, ngpus: 4 }],
    ['a partition and a reservation', { ...BASE, partition: 'gpu_h100-a', reservation: 'R1' }, { ...BASE, ...DEFAULTS, partition: 'gpu_h100-a', reservation: 'R1' }],
    ['a 64-character partition', { ...BASE, partition: 'p'.repeat(64) }, { ...BASE, ...DEFAULTS, partition: 'p'.repeat(64) }],
    ['a half step', { ...BASE, memory_gb: 2.5 }, { ...BASE, ...DEFAULTS, memory_gb: 2.5 }],
    ['a ticked checkbox', { ...BASE, exclusive: true }, { ...BASE, ...DEFAULTS, exclusive: true }],
    ['a choice open to all', { ...BASE, qos: 'normal' }, { ...BASE, ...DEFAULTS, qos: 'normal' }],
  ];
  for (const [what, input, expected] of good) {
    it(what, () => assert.deepEqual(form.check(input, carol), expected));
  }

  it('returns the fields in declaration order, whatever the order given', () => {
    const out = form.check({ ngpus: 2, brics_project: 'proj1.portal' }, carol);
    assert.deepEqual(Object.keys(out), ['brics_project', 'runtime', 'ngpus', 'exclusive']);
  });
});

describe('OptionsForm.check: bad values, each a 400 naming the field and the rule', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown option, with what is accepted', { ...BASE, partiton: 'gpu' }, /^Unknown option "partiton"; this back-end accepts: brics_project, runtime, ngpus, partition, reservation, memory_gb, exclusive, qos$/],
    ['a key named like a prototype property', JSON.parse('{"__proto__": {"x": 1}, "brics_project": "proj1.portal"}') as Record<string, unknown>, /Unknown option "__proto__"/],
    ['a missing required project', { ngpus: 2 }, /^Option "brics_project" \(Project\): is required$/],
    ['a project that is not the user\'s', { brics_project: 'proj9.portal' }, /Option "brics_project" \(Project\): "proj9\.portal" is not one of the choices you have \(proj1\.portal, proj2\.portal\)/],
    ['a project given as a number', { brics_project: 1 }, /"brics_project" \(Project\): must be a string, got a number/],
    ['a project given as a list', { brics_project: ['proj1.portal'] }, /"brics_project" \(Project\): must be a string, got a list/],
    ['a runtime over the limit', { ...BASE, runtime: '24:00:00' }, /"runtime" \(Runtime\): "24:00:00" is not one of the choices you have \(01:00:00, 02:00:00, 04:00:00, 08:00:00\)/],
    ['GPUs above the maximum', { ...BASE, ngpus: 5 }, /"ngpus" \(GPUs\): 5 is above the maximum 4/],
    ['GPUs below the minimum', { ...BASE, ngpus: 0 }, /"ngpus" \(GPUs\): 0 is below the minimum 1/],
    ['a fraction of a GPU', { ...BASE, ngpus: 1.5 }, /"ngpus" \(GPUs\): 1\.5 is not a whole number/],
    ['GPUs as text', { ...BASE, ngpus: '2' }, /"ngpus" \(GPUs\): must be a number, got a string/],
    ['GPUs as NaN-like infinity', { ...BASE, ngpus: Infinity }, /"ngpus" \(GPUs\): must be a number, got Infinity/],
    ['memory off the step', { ...BASE, memory_gb: 0.75 }, /"memory_gb" \(Memory\): 0\.75 is not 0\.5 plus a multiple of 0\.5/],
    ['a partition with a space', { ...BASE, partition: 'gpu a' }, /"partition" \(Partition\): "gpu a" does not match \^\[A-Za-z0-9_\\-\]\{1,64\}\$/],
    ['a partition with shell characters', { ...BASE, partition: 'gpu;rm -rf ~' }, /"partition" \(Partition\): .* does not match/],
    ['a partition too long', { ...BASE, partition: 'p'.repeat(65) }, /"partition" \(Partition\): is longer than 64 characters/],
    ['a newline in a text', { ...BASE, reservation: 'R1\n#SBATCH --uid=0' }, /"reservation" \(Reservation\): must not hold control characters/],
    ['a NUL in a text', { ...BASE, reservation: 'R1\u0000' }, /"reservation" \(Reservation\): must not hold control characters/],
    ['a newline in a select value', { brics_project: 'proj1.portal\n' }, /"brics_project" \(Project\): must not hold control characters/],
    ['a checkbox as text', { ...BASE, exclusive: 'on' }, /"exclusive" \(Whole node\): must be true or false, got a string/],
    ['a choice kept for other groups', { ...BASE, qos: 'high' }, /"qos" \(QoS\): "high" is not open to your groups/],
    ['a value that is no choice', { ...BASE, qos: 'urgent' }, /"qos" \(QoS\): "urgent" is not one of the choices you have \(normal\)/],
  ];
  for (const [what, input, message] of bad) {
    it(what, () => {
      const r = refusal(() => form.check(input, carol));
      assert.equal(r.status, 400);
      assert.match(r.message, message);
    });
  }

  it('a hostile unknown key is quoted and clipped in the message', () => {
    const r = refusal(() => form.check({ ['x\n'.repeat(100)]: 1 }, carol));
    assert.match(r.message, /^Unknown option "x\\u\{a\}x/);
    assert.ok(!r.message.includes('\n'));
    assert.ok(r.message.length < 600, r.message);
  });

  it('options that are not an object are refused', () => {
    assert.equal(refusal(() => form.check([] as unknown as Record<string, unknown>, carol)).status, 400);
  });
});

describe('OptionsForm.check: auth state, groups, extra keys', () => {
  it('without auth state the project is refused, saying there is no choice', () => {
    const none = { ...carol, authState: null };
    assert.match(refusal(() => form.check({ brics_project: 'proj1.portal' }, none)).message, /"proj1\.portal" is not a choice: you have none/);
    assert.match(refusal(() => form.check({}, none)).message, /"brics_project" \(Project\): is required, and you have no choices for it/);
  });

  it('a project of another user is refused for carol', () => {
    const dave = { ...carol, user: { name: 'dave', admin: false, groups: [] }, authState: { 'proj3.portal': { name: 'Project 3', username: 'dave.proj3' } } };
    assert.equal(form.check({ brics_project: 'proj3.portal' }, dave)['brics_project'], 'proj3.portal');
    assert.match(refusal(() => form.check({ brics_project: 'proj3.portal' }, carol)).message, /not one of the choices you have/);
  });

  it('values_for_groups: listed values for members (and admins), unlisted ones for everyone', () => {
    const as = (groups: string[], admin = false): OptionsContext => ({ ...carol, user: { name: 'carol', admin, groups } });
    assert.equal(form.check({ ...BASE, qos: 'high' }, as(['power']))['qos'], 'high');
    assert.equal(form.check({ ...BASE, qos: 'debug' }, as(['staff']))['qos'], 'debug');
    assert.match(refusal(() => form.check({ ...BASE, qos: 'debug' }, as(['power']))).message, /not open to your groups/);
    assert.equal(form.check({ ...BASE, qos: 'debug' }, as([], true))['qos'], 'debug');
    assert.equal(form.check({ ...BASE, qos: 'normal' }, as(['power']))['qos'], 'normal');
  });

  it('extraKeys pass through unchanged; other keys are still refused, and listed as accepted', () => {
    const small = new OptionsForm([{ name: 'ngpus', label: 'GPUs', type: 'number', min: 1, max: 4 }]);
    assert.deepEqual(small.check({ ngpus: 2, req_memory: '4G' }, carol, { extraKeys: ['req_memory'] }), { ngpus: 2, req_memory: '4G' });
    assert.match(refusal(() => small.check({ req_qos: 'x' }, carol, { extraKeys: ['req_memory'] })).message, /^Unknown option "req_qos"; this back-end accepts: ngpus, req_memory$/);
    assert.match(refusal(() => new OptionsForm([]).check({ x: 1 }, carol)).message, /^Unknown option "x"; this back-end accepts: no options$/);
  });

  it('a default that is not valid for the user is not applied', () => {
    const f = new OptionsForm([{ name: 'project', label: 'Project', type: 'select', choices_from: 'auth_state_keys', default: 'proj1.portal' }]);
    assert.deepEqual(f.check({}, carol), { project: 'proj1.portal' });
    assert.deepEqual(f.check({}, { ...carol, authState: {} }), {});
  });

  it('a required checkbox must be ticked', () => {
    const f = new OptionsForm([{ name: 'accept', label: 'I accept', type: 'checkbox', required: true }]);
    assert.deepEqual(f.check({ accept: true }, carol), { accept: true });
    assert.match(refusal(() => f.check({ accept: false }, carol)).message, /"accept" \(I accept\): must be ticked/);
    assert.match(refusal(() => f.check({}, carol)).message, /"accept" \(I accept\): is required/);
  });
});

describe('OptionsForm.fromForm', () => {
  it('reads only the declared fields, converts numbers and checkboxes, leaves empty fields out', () => {
    const posted = { brics_project: 'proj1.portal', ngpus: '2', memory_gb: ' 1.5 ', partition: '', exclusive: 'on', image: 'evil', backend: 'x', cmd: 'sh' };
    assert.deepEqual(form.fromForm(posted), { brics_project: 'proj1.portal', ngpus: 2, memory_gb: 1.5, exclusive: true });
    assert.deepEqual(form.fromForm({}), { exclusive: false });
  });

  it('keeps a newline for check to refuse (only spaces are trimmed)', () => {
    const out = form.fromForm({ brics_project: 'proj1.portal', partition: 'gpu\n' });
    assert.equal(out['partition'], 'gpu\n');
    assert.match(refusal(() => form.check(out, carol)).message, /"partition" \(Partition\): must not hold control characters/);
  });

  const bad: Array<[string, Record<string, string | string[]>, RegExp]> = [
    ['a field posted twice', { brics_project: ['proj1.portal', 'proj2.portal'] }, /"brics_project" \(Project\): was sent more than once/],
    ['a number that is not one', { ngpus: 'lots' }, /"ngpus" \(GPUs\): "lots" is not a number/],
    ['a hexadecimal number', { ngpus: '0x2' }, /"ngpus" \(GPUs\): "0x2" is not a number/],
    ['an odd checkbox value', { exclusive: 'maybe' }, /"exclusive" \(Whole node\): "maybe" is not a checkbox value/],
  ];
  for (const [what, posted, message] of bad) {
    it(what, () => {
      const r = refusal(() => form.fromForm(posted));
      assert.equal(r.status, 400);
      assert.match(r.message, message);
    });
  }

  it('a field sent once as a list of one is read', () => {
    assert.deepEqual(form.fromForm({ ngpus: ['3'] }), { ngpus: 3, exclusive: false });
  });
});

describe('OptionsForm.render', () => {
  const render = (ctx: Partial<OptionsContext> & { previous?: Record<string, unknown> } = {}) => form.render({ ...carol, previous: {}, ...ctx })!;

  it('shows every field with the attributes of its rules', () => {
    const h = render();
    assert.match(h, /<select name="brics_project" required><option value="">Choose…<\/option><option value="proj1\.portal">Project 1<\/option><option value="proj2\.portal">Project 2<\/option><\/select>/);
    assert.match(h, /<option value="01:00:00" selected>1 hour<\/option>/);
    assert.match(h, /<input type="number" name="ngpus" value="1" min="1" max="4" step="1">/);
    assert.match(h, /<input type="number" name="memory_gb" min="0\.5" max="8" step="0\.5">/);
    assert.match(h, /<input type="text" name="partition" maxlength="64" pattern="\^\[A-Za-z0-9_\\-\]\{1,64\}\$" autocomplete="off">/);
    assert.match(h, /Leave empty unless you were given a reservation\./);
    assert.match(h, /<input type="checkbox" name="exclusive" value="on"> Whole node/);
    // an optional select without default may be left empty; carol sees only the choice open to her
    assert.match(h, /<select name="qos"><option value="" selected>\(none\)<\/option><option value="normal">Normal<\/option><\/select>/);
  });

  it('preselects the last values when still valid, else the defaults', () => {
    const h = render({ previous: { brics_project: 'proj2.portal', runtime: '04:00:00', ngpus: 3, partition: 'gpu', exclusive: true, backend: 'x' } });
    assert.match(h, /<option value="proj2\.portal" selected>Project 2/);
    assert.doesNotMatch(h, /Choose…/);
    assert.match(h, /<option value="04:00:00" selected>/);
    assert.match(h, /name="ngpus" value="3"/);
    assert.match(h, /name="partition" value="gpu"/);
    assert.match(h, /name="exclusive" value="on" checked/);
    // a project no longer the user's, a runtime no longer offered, GPUs out of range: not preselected
    const stale = render({ previous: { brics_project: 'proj9.portal', runtime: '24:00:00', ngpus: 9, partition: 'a b' } });
    assert.doesNotMatch(stale, /proj9/);
    assert.match(stale, /<option value="01:00:00" selected>/);
    assert.match(stale, /name="ngpus" value="1"/);
    assert.doesNotMatch(stale, /a b/);
  });

  it('says "No projects available" when the auth state has no projects', () => {
    for (const authState of [null, {}]) {
      const h = render({ authState });
      assert.match(h, /<select name="brics_project" disabled required><option value="">No projects available<\/option><\/select>/);
    }
  });

  it('escapes labels and values from the auth state and from a hostile previous value', () => {
    const authState = { '"><script>alert(1)</script>': { name: '<script>alert(2)</script>', username: 'x' }, 'p&q': { name: "O'Brien & <b>co</b>" } };
    const h = render({ authState, previous: { reservation: '"><img src=x onerror=alert(3)>' } });
    assert.doesNotMatch(h, /<script|<img|<b>/);
    assert.match(h, /<option value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;">&lt;script&gt;alert\(2\)&lt;\/script&gt;<\/option>/);
    assert.match(h, /<option value="p&amp;q">O&#39;Brien &amp; &lt;b&gt;co&lt;\/b&gt;<\/option>/);
    const labelled = new OptionsForm([{ name: 'x', label: '<i>X</i>', help: '<script>h</script>', type: 'text' }]).render({ ...carol, previous: {} })!;
    assert.match(labelled, /&lt;i&gt;X&lt;\/i&gt;.*&lt;script&gt;h&lt;\/script&gt;/);
  });

  it('a pattern browsers cannot compile (v flag) is left to the hub', () => {
    const h = new OptionsForm([{ name: 'p', label: 'P', type: 'text', pattern: '^[a-z_-]+$' }]).render({ ...carol, previous: {} })!;
    assert.doesNotMatch(h, /pattern=/);
  });

  it('no fields: no form', () => {
    assert.equal(new OptionsForm([]).render({ ...carol, previous: {} }), undefined);
  });
});

describe('form_fields declarations', () => {
  const problems: Array<[string, FormFieldInput[], RegExp]> = [
    ['a bad name', [{ name: 'Partition', label: 'P', type: 'text' }], /form_fields\[0\]\.name: expected string to match/i],
    ['a reserved name', [{ name: 'backend', label: 'B', type: 'text' }], /form_fields\[0\]\.name: "backend" is reserved/],
    ['a duplicate name', [{ name: 'a', label: 'A', type: 'text' }, { name: 'a', label: 'A', type: 'text' }], /form_fields\[1\]\.name: "a" names two fields/],
    ['a select without choices', [{ name: 'a', label: 'A', type: 'select' }], /form_fields\[0\]: a select field needs exactly one of choices and choices_from/],
    ['a select with both sources', [{ name: 'a', label: 'A', type: 'select', choices: [{ value: 'x', label: 'X' }], choices_from: 'auth_state_keys' }], /exactly one of choices and choices_from/],
    ['choices on a text field', [{ name: 'a', label: 'A', type: 'text', choices: [{ value: 'x', label: 'X' }] }], /form_fields\[0\]\.choices: only a select field has it \(this one is text\)/],
    ['min on a text field', [{ name: 'a', label: 'A', type: 'text', min: 1 }], /form_fields\[0\]\.min: only a number field has it/],
    ['a pattern on a number', [{ name: 'a', label: 'A', type: 'number', pattern: 'x' }], /form_fields\[0\]\.pattern: only a text field has it/],
    ['min above max', [{ name: 'a', label: 'A', type: 'number', min: 5, max: 1 }], /form_fields\[0\]\.min: 5 is above max \(1\)/],
    ['a pattern that does not compile', [{ name: 'a', label: 'A', type: 'text', pattern: '(' }], /form_fields\[0\]\.pattern: not a valid regular expression/],
    ['a choice listed twice', [{ name: 'a', label: 'A', type: 'select', choices: [{ value: 'x', label: 'X' }, { value: 'x', label: 'Y' }] }], /choices\[1\]\.value: "x" is listed twice/],
    ['a choice with a newline', [{ name: 'a', label: 'A', type: 'select', choices: [{ value: 'x\ny', label: 'X' }] }], /choices\[0\]\.value: must not hold control characters/],
    ['a default not among the choices', [{ name: 'a', label: 'A', type: 'select', choices: [{ value: 'x', label: 'X' }], default: 'y' }], /form_fields\[0\]\.default: "y" is not one of the choices/],
    ['a default out of range', [{ name: 'a', label: 'A', type: 'number', min: 1, max: 4, default: 8 }], /form_fields\[0\]\.default: 8 is outside min\/max/],
    ['a default off the pattern', [{ name: 'a', label: 'A', type: 'text', pattern: '[a-z]+', default: 'A' }], /form_fields\[0\]\.default: "A" does not match/],
    ['a checkbox default that is text', [{ name: 'a', label: 'A', type: 'checkbox', default: 'yes' }], /default: a checkbox default is true or false/],
    ['values_for_groups naming no choice', [{ name: 'a', label: 'A', type: 'select', choices: [{ value: 'x', label: 'X' }], values_for_groups: { g: ['z'] } }], /values_for_groups\.g: "z" is not one of the choices/],
    ['an unknown key', [{ name: 'a', label: 'A', type: 'text', maxlength: 3 } as unknown as FormFieldInput], /form_fields\[0\]/],
    ['an unknown type', [{ name: 'a', label: 'A', type: 'radio' } as unknown as FormFieldInput], /form_fields\[0\]\.type/],
  ];
  for (const [what, fields, message] of problems) {
    it(`refuses ${what}, naming the key`, () => {
      assert.throws(
        () => new OptionsForm(fields, 'form_fields'),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  it('names the key under the back-end it belongs to', () => {
    assert.throws(() => new OptionsForm([{ name: 'a', label: 'A', type: 'number', min: 2, max: 1 }], 'spawners.cluster-a.form_fields'), /spawners\.cluster-a\.form_fields\[0\]\.min/);
  });

  it('"backend" is reserved because it is the user_options key that picks a back-end', () => {
    assert.ok(RESERVED_FIELD_NAMES.includes(BACKEND_OPTION));
  });

  it('every key of a field has help text, and the option too', () => {
    assert.ok(String(FormFieldsSchema.description).length > 40);
    for (const [key, sub] of Object.entries((FormFieldSchema as TObject).properties)) {
      const s = sub as TSchema;
      assert.ok(String(s['description'] ?? '').length > 10, `${key} has no help text (${String(s[Kind])})`);
    }
  });

  it('the BriCS example in docs/spawn-form.md and in brics-form-fields.ts is BRICS_FORM_FIELDS', () => {
    const docs = readFileSync(new URL('../../docs/spawn-form.md', import.meta.url), 'utf8');
    const fromDocs = parseYaml(/```yaml\n([\s\S]*?)```/.exec(docs)![1]!) as { spawner: { form_fields: unknown } };
    assert.deepEqual(fromDocs.spawner.form_fields, BRICS_FORM_FIELDS);
    const source = readFileSync(new URL('../../src/spawners/options-form/brics-form-fields.ts', import.meta.url), 'utf8');
    const block = /```yaml\n([\s\S]*?) \* ```/.exec(source)![1]!.replace(/^ \* ?/gm, '');
    assert.deepEqual((parseYaml(block) as { form_fields: unknown }).form_fields, BRICS_FORM_FIELDS);
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and attributes', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    assert.equal(escapeHtml(undefined), '');
    assert.equal(escapeHtml(3), '3');
  });
});

describe('formSpawnerMethods', () => {
  it('gives a spawner optionsForm, optionsFromForm and checkOptions backed by the form, with extraKeys', async () => {
    const m = formSpawnerMethods(new OptionsForm(BRICS_FORM_FIELDS), { extraKeys: ['req_memory'] });
    const html = (await m.optionsForm(carol.user, { authState: CAROL_PROJECTS, previous: { ngpus: 4 } }))!;
    assert.match(html, /<option value="proj2\.portal">Project 2<\/option>/);
    assert.match(html, /name="ngpus" value="4"/);
    assert.match((await m.optionsForm(carol.user))!, /No projects available/);
    const options = m.optionsFromForm({ brics_project: 'proj1.portal', ngpus: '3', req_memory: '64G' });
    assert.deepEqual(options, { brics_project: 'proj1.portal', ngpus: 3 });
    assert.deepEqual(await m.checkOptions({ ...options, req_memory: '4G' }, carol), { brics_project: 'proj1.portal', runtime: '01:00:00', ngpus: 3, req_memory: '4G' });
    assert.throws(() => m.checkOptions({ ...options, req_qos: 'x' }, carol), /Unknown option "req_qos"/);
  });
});
