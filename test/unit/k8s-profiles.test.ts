import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { KubernetesSpawnerSchema, type KubernetesSpawnerConfig } from '../../src/spawners/kubernetes/kubernetes-config.js';
import {
  applyProfile,
  availableProfiles,
  checkProfileList,
  profileFormHtml,
  profileOptionsFromForm,
  profileToggleName,
  resolveProfiles,
  UNLISTED_SELECT_VALUE,
  type ResolvedProfile,
} from '../../src/spawners/kubernetes/profiles.js';
import { deepMerge, substituteValue } from '../../src/spawners/kubernetes/deep-merge.js';
import { BACKEND_OPTION } from '../../src/spawners/backends.js';
import { ConfigError, HubError } from '../../src/lib/errors.js';
import { validateConfig } from '../../src/config/load.js';

/** A `kind: kubernetes` back-end's options through the config loader (defaults filled, map entries of profile options included). */
function config(over: Record<string, unknown> = {}): KubernetesSpawnerConfig {
  const filled = validateConfig({ spawner: { kind: 'kubernetes', ...over } }).spawner;
  assert.ok(Value.Check(KubernetesSpawnerSchema, filled));
  return filled as KubernetesSpawnerConfig;
}

const USER = { groups: [] as string[], admin: false };
const REGISTRY = 'registry.example.org/platform';

/** The platform stack's seven profiles: only datascience on unless its JUPYTER_PROFILE_<NAME>_ENABLED says so. */
const PLATFORM = config({
  image: `${REGISTRY}/datascience-notebook:2025-01`,
  cpu_limit: 2,
  cpu_guarantee: 0.5,
  mem_limit: '2G',
  mem_guarantee: '1G',
  default_url: '/lab',
  cmd: ['jupyter-labhub'],
  profile_list: [
    { display_name: 'Minimal', slug: 'minimal', enabled: false, kubespawner_override: { image: `${REGISTRY}/minimal-notebook:2025-01` } },
    { display_name: 'Base', slug: 'base', enabled: false, kubespawner_override: { image: `${REGISTRY}/base-notebook:2025-01` } },
    { display_name: 'Data Science', slug: 'datascience', description: 'Python, R and Julia', default: true },
    { display_name: 'PySpark', slug: 'pyspark', enabled: false, kubespawner_override: { image: `${REGISTRY}/pyspark-notebook:2025-01`, mem_limit: '4G' } },
    { display_name: 'PyTorch', slug: 'pytorch', enabled: false, kubespawner_override: { image: `${REGISTRY}/pytorch-notebook:2025-01` } },
    { display_name: 'TensorFlow', slug: 'tensorflow', enabled: false, kubespawner_override: { image: `${REGISTRY}/tensorflow-notebook:2025-01` } },
    {
      display_name: 'Buun Stack',
      slug: 'buun-stack',
      enabled: false,
      kubespawner_override: { image: `${REGISTRY}/buun-stack:2025-01` },
      profile_options: {
        variant: {
          display_name: 'Variant',
          choices: {
            cpu: { display_name: 'CPU', default: true },
            cuda: {
              display_name: 'CUDA (one GPU)',
              kubespawner_override: {
                image: `${REGISTRY}/buun-stack-cuda:2025-01`,
                extra_resource_limits: { 'nvidia.com/gpu': '1' },
                tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
              },
            },
          },
        },
      },
    },
  ],
});

/** An Up2U-like list from the values: limits on the back-end, a GPU profile for one group, a free-text image. */
const UP2U = config({
  image: 'up2u/notebook:1.0',
  cpu_limit: 2,
  cpu_guarantee: 0.5,
  mem_limit: '2G',
  mem_guarantee: '1G',
  storage_pvc_ensure: true,
  storage_capacity: '10G',
  default_url: '/lab',
  node_selector: { pool: 'users' },
  extra_labels: { site: 'up2u', team: 'edu' },
  profile_list: [
    { display_name: 'Default environment', description: 'JupyterLab with the course packages' },
    {
      display_name: 'GPU environment',
      allowed_groups: ['gpu-users'],
      kubespawner_override: { extra_resource_limits: { 'nvidia.com/gpu': '1' }, node_selector: { pool: null, accelerator: 'nvidia' }, extra_labels: { team: null } },
    },
    {
      display_name: 'Custom image',
      profile_options: {
        image: {
          display_name: 'Image',
          choices: { scipy: { display_name: 'SciPy', kubespawner_override: { image: 'quay.io/jupyter/scipy-notebook:2025-01-06' } } },
          unlisted_choice: {
            enabled: true,
            display_name: 'Image name',
            validation_regex: '^quay\\.io/jupyter/[a-z-]+:[0-9-]+$',
            validation_message: 'an image of quay.io/jupyter with a dated tag',
            kubespawner_override: { image: '{value}', environment: { JUPYTER_IMAGE_CHOSEN: '{value}' } },
          },
        },
      },
    },
  ],
});

function refused(fn: () => unknown, field: RegExp, extra?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HubError && !(err instanceof ConfigError), `a HubError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.match(err.message, field);
    if (extra) assert.match(err.message, extra);
    return true;
  });
}

function configError(fn: () => unknown, where: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.match(err.message, where);
    return true;
  });
}

describe('deep merge of overrides', () => {
  it('merges objects recursively, deletes on null, replaces arrays and scalars, leaves its inputs alone', () => {
    const base = { a: { b: 1, c: { d: 2, e: 3 } }, list: [1, 2, 3], keep: 'x', gone: 'y' };
    const over = { a: { c: { e: null, f: 4 } }, list: [9], gone: null, added: { x: null, y: 1 } };
    const before = JSON.stringify(base);
    assert.deepEqual(deepMerge(base, over), { a: { b: 1, c: { d: 2, f: 4 } }, list: [9], keep: 'x', added: { y: 1 } });
    assert.equal(JSON.stringify(base), before);
  });
  it('never copies __proto__', () => {
    const merged = deepMerge({}, JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": {"x": 1}}}') as Record<string, unknown>);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.deepEqual(merged, { a: {} });
  });
  it('substitutes {value} in every string, with $ patterns kept literal', () => {
    assert.deepEqual(substituteValue({ image: '{value}', env: { A: 'x-{value}-{value}' }, list: ['{value}', 3] }, 'a$&b'), {
      image: 'a$&b',
      env: { A: 'x-a$&b-a$&b' },
      list: ['a$&b', 3],
    });
  });
});

describe('the platform stack: seven profiles switched by environment variables', () => {
  it('offers only datascience by default', () => {
    const p = availableProfiles(PLATFORM, USER, {});
    assert.deepEqual(
      p.map((x) => [x.slug, x.default]),
      [['datascience', true]],
    );
  });
  it('switches profiles on and off with JUPYTER_PROFILE_<SLUG>_ENABLED', () => {
    const table: [Record<string, string>, string[]][] = [
      [{ JUPYTER_PROFILE_MINIMAL_ENABLED: 'true' }, ['minimal', 'datascience']],
      [{ JUPYTER_PROFILE_BUUN_STACK_ENABLED: '1', JUPYTER_PROFILE_DATASCIENCE_ENABLED: 'no' }, ['buun-stack']],
      [{ JUPYTER_PROFILE_PYSPARK_ENABLED: 'YES', JUPYTER_PROFILE_PYTORCH_ENABLED: ' True ', JUPYTER_PROFILE_TENSORFLOW_ENABLED: '0' }, ['datascience', 'pyspark', 'pytorch']],
      [
        Object.fromEntries(['MINIMAL', 'BASE', 'DATASCIENCE', 'PYSPARK', 'PYTORCH', 'TENSORFLOW', 'BUUN_STACK'].map((n) => [`JUPYTER_PROFILE_${n}_ENABLED`, 'true'])),
        ['minimal', 'base', 'datascience', 'pyspark', 'pytorch', 'tensorflow', 'buun-stack'],
      ],
      [{ JUPYTER_PROFILE_DATASCIENCE_ENABLED: 'false' }, []],
    ];
    for (const [env, slugs] of table) assert.deepEqual(availableProfiles(PLATFORM, USER, env).map((x) => x.slug), slugs, JSON.stringify(env));
  });
  it('ignores a toggle that is not a boolean, with a warning naming the variable', () => {
    const warnings: string[] = [];
    const p = availableProfiles(PLATFORM, USER, { JUPYTER_PROFILE_BASE_ENABLED: 'maybe', JUPYTER_PROFILE_DATASCIENCE_ENABLED: '' }, (m) => warnings.push(m));
    assert.deepEqual(p.map((x) => x.slug), ['datascience']);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /JUPYTER_PROFILE_BASE_ENABLED/);
  });
  it('names the variable with the slug upper-cased and - and . as _', () => {
    assert.equal(profileToggleName('buun-stack'), 'JUPYTER_PROFILE_BUUN_STACK_ENABLED');
    assert.equal(profileToggleName('py3.11-gpu'), 'JUPYTER_PROFILE_PY3_11_GPU_ENABLED');
  });
  it('makes the first enabled profile the default when the marked one is switched off', () => {
    const p = availableProfiles(PLATFORM, USER, { JUPYTER_PROFILE_DATASCIENCE_ENABLED: 'false', JUPYTER_PROFILE_PYTORCH_ENABLED: 'true', JUPYTER_PROFILE_BASE_ENABLED: 'true' });
    assert.deepEqual(
      p.map((x) => [x.slug, x.default]),
      [
        ['base', true],
        ['pytorch', false],
      ],
    );
    assert.equal(applyProfile(PLATFORM, {}, p).config.image, `${REGISTRY}/base-notebook:2025-01`);
  });
  it('applies each profile over the config (config → profile → choices)', () => {
    const all = availableProfiles(PLATFORM, { groups: [], admin: true }, Object.fromEntries(['MINIMAL', 'BASE', 'PYSPARK', 'PYTORCH', 'TENSORFLOW', 'BUUN_STACK'].map((n) => [`JUPYTER_PROFILE_${n}_ENABLED`, 'true'])));
    const table: [Record<string, unknown>, Partial<KubernetesSpawnerConfig>][] = [
      [{}, { image: `${REGISTRY}/datascience-notebook:2025-01`, mem_limit: '2G' }],
      [{ profile: 'datascience' }, { image: `${REGISTRY}/datascience-notebook:2025-01` }],
      [{ profile: 'minimal' }, { image: `${REGISTRY}/minimal-notebook:2025-01` }],
      [{ profile: 'pyspark' }, { image: `${REGISTRY}/pyspark-notebook:2025-01`, mem_limit: '4G', cpu_limit: 2 }],
      [{ profile: 'buun-stack' }, { image: `${REGISTRY}/buun-stack:2025-01`, extra_resource_limits: {}, tolerations: [] }],
      [
        { profile: 'buun-stack', variant: 'cuda' },
        {
          image: `${REGISTRY}/buun-stack-cuda:2025-01`,
          extra_resource_limits: { 'nvidia.com/gpu': '1' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          cmd: ['jupyter-labhub'],
          default_url: '/lab',
        },
      ],
    ];
    for (const [opts, expected] of table) {
      const { config: merged } = applyProfile(PLATFORM, opts, all);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(merged[k as keyof KubernetesSpawnerConfig], v, `${JSON.stringify(opts)} ${k}`);
      assert.ok(Value.Check(KubernetesSpawnerSchema, merged));
    }
    assert.deepEqual(applyProfile(PLATFORM, { profile: 'buun-stack', variant: 'cuda' }, all).choice, { profile: 'buun-stack', options: { variant: 'cuda' }, unlisted: {} });
    assert.deepEqual(applyProfile(PLATFORM, { profile: 'buun-stack' }, all).choice, { profile: 'buun-stack', options: { variant: 'cpu' }, unlisted: {} });
    assert.equal(PLATFORM.image, `${REGISTRY}/datascience-notebook:2025-01`, 'the config is not changed');
  });
  it('refuses a profile switched off, naming the field and the allowed values', () => {
    const p = availableProfiles(PLATFORM, USER, {});
    refused(() => applyProfile(PLATFORM, { profile: 'pytorch' }, p), /"profile": "pytorch" is not available to you/, /one of: "datascience"/);
    refused(() => applyProfile(PLATFORM, { profile: 'nope' }, p), /"profile": "nope" is not a profile of this back-end/, /one of: "datascience"/);
    refused(() => applyProfile(PLATFORM, { profile: 7 }, p), /"profile" must be a string/);
    refused(() => applyProfile(PLATFORM, {}, []), /"profile": no profile of this back-end is available to you/);
  });
  it('passes a load-time check', () => {
    assert.deepEqual(
      checkProfileList(PLATFORM, 'spawners.k8s').map((p) => p.slug),
      ['minimal', 'base', 'datascience', 'pyspark', 'pytorch', 'tensorflow', 'buun-stack'],
    );
  });
});

describe("Up2U's profiles", () => {
  it('fills slugs from display names and makes the first profile the default', () => {
    const p = resolveProfiles(UP2U);
    assert.deepEqual(
      p.map((x) => [x.slug, x.default]),
      [
        ['default-environment', true],
        ['gpu-environment', false],
        ['custom-image', false],
      ],
    );
  });
  it('shows the GPU profile only to its group and to admins', () => {
    assert.deepEqual(availableProfiles(UP2U, USER, {}).map((p) => p.slug), ['default-environment', 'custom-image']);
    assert.deepEqual(availableProfiles(UP2U, { groups: ['gpu-users'], admin: false }, {}).map((p) => p.slug), ['default-environment', 'gpu-environment', 'custom-image']);
    assert.deepEqual(availableProfiles(UP2U, { groups: [], admin: true }, {}).map((p) => p.slug), ['default-environment', 'gpu-environment', 'custom-image']);
    refused(() => applyProfile(UP2U, { profile: 'gpu-environment' }, availableProfiles(UP2U, USER, {})), /"profile": "gpu-environment" is not available to you/, /"default-environment", "custom-image"/);
  });
  it('merges the GPU override recursively (null deletes a key)', () => {
    const { config: c } = applyProfile(UP2U, { profile: 'gpu-environment' }, availableProfiles(UP2U, { groups: ['gpu-users'], admin: false }, {}));
    assert.deepEqual(c.node_selector, { accelerator: 'nvidia' });
    assert.deepEqual(c.extra_labels, { site: 'up2u' });
    assert.deepEqual(c.extra_resource_limits, { 'nvidia.com/gpu': '1' });
    assert.equal(c.cpu_limit, 2);
    assert.equal(c.storage_capacity, '10G');
  });
  it('takes a free-text image that matches the whole regex, substituting {value}', () => {
    const p = availableProfiles(UP2U, USER, {});
    const { config: c, choice } = applyProfile(UP2U, { profile: 'custom-image', 'image--unlisted-choice': 'quay.io/jupyter/r-notebook:2025-01-06' }, p);
    assert.equal(c.image, 'quay.io/jupyter/r-notebook:2025-01-06');
    assert.deepEqual(c.environment, { JUPYTER_IMAGE_CHOSEN: 'quay.io/jupyter/r-notebook:2025-01-06' });
    assert.deepEqual(choice, { profile: 'custom-image', options: {}, unlisted: { image: 'quay.io/jupyter/r-notebook:2025-01-06' } });
    assert.equal(applyProfile(UP2U, { profile: 'custom-image' }, p).config.image, 'quay.io/jupyter/scipy-notebook:2025-01-06');
  });
  it('refuses bad free texts, naming the field', () => {
    const p = availableProfiles(UP2U, USER, {});
    const field = /"image--unlisted-choice"/;
    for (const text of [
      'docker.io/evil/miner:latest',
      'quay.io/jupyter/r-notebook:2025-01-06 x', // the whole value must match
      'xquay.io/jupyter/r-notebook:2025-01-06',
      'quay.io/jupyter/r-notebook:2025\n',
      `quay.io/jupyter/${'a'.repeat(300)}:1`,
      '',
    ]) {
      refused(() => applyProfile(UP2U, { profile: 'custom-image', 'image--unlisted-choice': text }, p), field);
    }
    refused(() => applyProfile(UP2U, { profile: 'custom-image', 'image--unlisted-choice': 'docker.io/x:1' }, p), field, /quay\.io\/jupyter with a dated tag/);
    refused(() => applyProfile(UP2U, { profile: 'custom-image', 'image--unlisted-choice': ['a'] }, p), /"image--unlisted-choice" must be a string/);
    refused(() => applyProfile(UP2U, { profile: 'custom-image', image: 'scipy', 'image--unlisted-choice': 'quay.io/jupyter/r-notebook:1' }, p), /not both/);
    assert.equal(applyProfile(UP2U, { profile: 'custom-image', image: 'scipy', 'image--unlisted-choice': '' }, p).config.image, 'quay.io/jupyter/scipy-notebook:2025-01-06');
  });
  it('refuses control characters even when no regex is set, and values the schema refuses', () => {
    const c = config({
      profile_list: [{ display_name: 'Any', profile_options: { tag: { display_name: 'Tag', unlisted_choice: { enabled: true, kubespawner_override: { image: 'img:{value}', mem_limit: '{value}' } } } } }],
    });
    const p = availableProfiles(c, USER, {});
    refused(() => applyProfile(c, { 'tag--unlisted-choice': '1G\u0007' }, p), /"tag--unlisted-choice": control characters/);
    refused(() => applyProfile(c, { 'tag--unlisted-choice': '1G\u202e' }, p), /"tag--unlisted-choice": control characters/);
    refused(() => applyProfile(c, { 'tag--unlisted-choice': 'lots' }, p), /"tag--unlisted-choice".*invalid configuration.*mem_limit/);
    refused(() => applyProfile(c, {}, p), /"tag--unlisted-choice".*give a value/);
    assert.equal(applyProfile(c, { 'tag--unlisted-choice': '2G' }, p).config.image, 'img:2G');
  });
});

describe('user_options refused with the field named', () => {
  const all = availableProfiles(PLATFORM, USER, { JUPYTER_PROFILE_BUUN_STACK_ENABLED: 'true' });
  it('an unknown choice, an unknown option, a free text where none is allowed', () => {
    refused(() => applyProfile(PLATFORM, { profile: 'buun-stack', variant: 'rocm' }, all), /"variant": "rocm" is not a choice of profile "buun-stack"/, /one of: "cpu", "cuda"/);
    refused(() => applyProfile(PLATFORM, { profile: 'buun-stack', variant: 3 }, all), /"variant" must be a string/);
    refused(() => applyProfile(PLATFORM, { profile: 'buun-stack', image: 'x' }, all), /"image" is not an option of profile "buun-stack"/, /"variant"/);
    refused(() => applyProfile(PLATFORM, { profile: 'datascience', variant: 'cuda' }, all), /"variant" is not an option of profile "datascience"/);
    refused(() => applyProfile(PLATFORM, { profile: 'buun-stack', 'variant--unlisted-choice': 'x' }, all), /"variant--unlisted-choice": option "variant" takes no free text/, /"cpu", "cuda"/);
  });
  it('keeps the back-end choice the hub adds', () => {
    assert.equal(applyProfile(PLATFORM, { [BACKEND_OPTION]: 'k8s', profile: 'datascience' }, all).choice?.profile, 'datascience');
  });
  it('refuses a profile on a back-end without profiles, and leaves the config alone otherwise', () => {
    const plain = config();
    refused(() => applyProfile(plain, { profile: 'x' }, []), /"profile": this back-end has no profiles/);
    assert.deepEqual(applyProfile(plain, {}, []), { config: plain, choice: undefined });
  });
});

describe('profile_list checked at load', () => {
  const at = (profile: Record<string, unknown>) => () => checkProfileList(config({ profile_list: [{ display_name: 'A' }, profile] }), 'spawners.k8s');
  it('refuses an override naming an unknown or back-end-wide option', () => {
    configError(at({ display_name: 'B', kubespawner_override: { imagee: 'x' } }), /^spawners\.k8s\.profile_list\[1\]\.kubespawner_override\.imagee: not an option/);
    configError(at({ display_name: 'B', kubespawner_override: { namespace: 'other' } }), /profile_list\[1\]\.kubespawner_override\.namespace: a setting of the whole back-end/);
    configError(
      at({ display_name: 'B', profile_options: { o: { display_name: 'O', choices: { c: { display_name: 'C', kubespawner_override: { gpu: 1 } } } } } }),
      /profile_list\[1\]\.profile_options\.o\.choices\.c\.kubespawner_override\.gpu: not an option/,
    );
    configError(
      at({ display_name: 'B', profile_options: { o: { display_name: 'O', unlisted_choice: { enabled: true, kubespawner_override: { kind: 'x' } } } } }),
      /profile_list\[1\]\.profile_options\.o\.unlisted_choice\.kubespawner_override\.kind/,
    );
  });
  it('refuses overrides giving an invalid config', () => {
    configError(at({ display_name: 'B', kubespawner_override: { cpu_limit: 'two' } }), /profile_list\[1\]: its overrides give an invalid configuration: cpu_limit/);
    configError(at({ display_name: 'B', kubespawner_override: { image: null } }), /profile_list\[1\]: .*image/);
    configError(
      at({ display_name: 'B', profile_options: { o: { display_name: 'O', choices: { a: { display_name: 'A' }, big: { display_name: 'Big', kubespawner_override: { mem_limit: 'huge' } } } } } }),
      /profile_list\[1\]\.profile_options\.o\.choices\.big: .*mem_limit/,
    );
    configError(at({ display_name: 'B', kubespawner_override: { extra_resource_limits: { 'nvidia.com/gpu': 1 } } }), /extra_resource_limits\.nvidia\.com\/gpu/);
  });
  it('refuses duplicate slugs, two defaults, a bad regex, an option with nothing to pick, "--" in an option name', () => {
    configError(() => checkProfileList(config({ profile_list: [{ display_name: 'A', slug: 'a' }, { display_name: 'B', slug: 'a' }] }), 'spawners.k8s'), /spawners\.k8s\.profile_list\[1\]\.slug: "a" is used by another profile/);
    configError(() => checkProfileList(config({ profile_list: [{ display_name: 'A', default: true }, { display_name: 'B', default: true }] }), 'spawners.k8s'), /spawners\.k8s\.profile_list: more than one profile is marked default/);
    configError(at({ display_name: 'B', profile_options: { o: { display_name: 'O', unlisted_choice: { enabled: true, validation_regex: '(' } } } }), /profile_list\[1\]\.profile_options\.o\.unlisted_choice\.validation_regex/);
    configError(at({ display_name: 'B', profile_options: { o: { display_name: 'O' } } }), /profile_list\[1\]\.profile_options\.o\.choices: the option offers nothing/);
    configError(at({ display_name: 'B', profile_options: { 'o--x': { display_name: 'O', choices: { a: { display_name: 'A' } } } } }), /profile_options\.o--x: an option name may not contain "--"/);
  });
  it('makes generated slugs unique, also against given ones', () => {
    const c = config({ profile_list: [{ display_name: 'GPU!' }, { display_name: 'gpu' }, { display_name: 'x', slug: 'gpu-2' }, { display_name: '日本' }] });
    assert.deepEqual(resolveProfiles(c).map((p) => p.slug), ['gpu', 'gpu-3', 'gpu-2', 'profile-4']);
  });
});

describe('the profile cards', () => {
  const HOSTILE = config({
    profile_list: [
      { display_name: '<script>alert(1)</script>', slug: 'x', description: '"><img src=x onerror=alert(2)>' },
      {
        display_name: "O'Brien & co",
        slug: 'y',
        profile_options: {
          size: {
            display_name: '<b>Size</b>',
            choices: { small: { display_name: '<i>small</i>' }, large: { display_name: 'large', default: true } },
            unlisted_choice: { enabled: true, display_name: 'Other <size>', display_name_in_choices: 'Other "..."', validation_regex: '[0-9]+', validation_message: '<digits>' },
          },
        },
      },
    ],
  });
  const profiles = (): ResolvedProfile[] => availableProfiles(HOSTILE, USER, {});
  it('escapes every configured text', () => {
    const html = profileFormHtml(profiles(), {});
    for (const raw of ['<script>', '<img', '<b>', '<i>', '<size>', '<digits>', 'Other "..."', "O'Brien"]) assert.ok(!html.includes(raw), raw);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /O&#39;Brien &amp; co/);
    assert.doesNotMatch(html, /\sid=/, 'no ids: several back-ends share the page');
  });
  it('names fields as KubeSpawner does and checks the default profile', () => {
    const html = profileFormHtml(profiles(), {});
    assert.match(html, /<input type="radio" name="profile" value="x" checked>/);
    assert.match(html, /<input type="radio" name="profile" value="y">/);
    assert.match(html, /<select name="profile-option-y--size"><option value="small">&lt;i&gt;small&lt;\/i&gt;<\/option><option value="large" selected>/);
    assert.match(html, new RegExp(`<option value="${UNLISTED_SELECT_VALUE}">Other &quot;...&quot;</option>`));
    assert.match(html, /<input type="text" name="profile-option-y--size--unlisted-choice" maxlength="256" pattern="\[0-9\]\+"/);
  });
  it('preselects the previous choices, escaped', () => {
    const listed = profileFormHtml(profiles(), { profile: 'y', size: 'small' });
    assert.match(listed, /value="y" checked/);
    assert.match(listed, /<option value="small" selected>/);
    const other = profileFormHtml(profiles(), { profile: 'y', 'size--unlisted-choice': '"><script>' });
    assert.match(other, new RegExp(`<option value="${UNLISTED_SELECT_VALUE}" selected>`));
    assert.match(other, /value="&quot;&gt;&lt;script&gt;"/);
    assert.match(profileFormHtml(profiles(), { profile: 'gone' }), /value="x" checked/);
    assert.match(profileFormHtml(profiles(), { profile: 'y', size: 'small', 'size--unlisted-choice': '' }), /<option value="small" selected>/);
    assert.equal(profileFormHtml([], {}), '');
  });
  it('round-trips form fields to user_options, keeping only the chosen profile', () => {
    const up = availableProfiles(UP2U, USER, {});
    const posted: Record<string, string | string[]> = {
      profile: 'custom-image',
      'profile-option-custom-image--image': UNLISTED_SELECT_VALUE,
      'profile-option-custom-image--image--unlisted-choice': 'quay.io/jupyter/r-notebook:2025-01-06',
      'profile-option-default-environment--image': 'x',
    };
    const opts = profileOptionsFromForm(posted);
    assert.deepEqual(opts, { profile: 'custom-image', 'image--unlisted-choice': 'quay.io/jupyter/r-notebook:2025-01-06' });
    assert.equal(applyProfile(UP2U, opts, up).config.image, 'quay.io/jupyter/r-notebook:2025-01-06');
    assert.match(profileFormHtml(up, opts), /value="quay\.io\/jupyter\/r-notebook:2025-01-06"/);

    const listed = profileOptionsFromForm({ profile: 'custom-image', 'profile-option-custom-image--image': 'scipy', 'profile-option-custom-image--image--unlisted-choice': 'ignored' });
    assert.deepEqual(listed, { profile: 'custom-image', image: 'scipy' });
    assert.match(profileFormHtml(up, listed), /<option value="scipy" selected>/);

    const all = availableProfiles(PLATFORM, USER, { JUPYTER_PROFILE_BUUN_STACK_ENABLED: 'yes' });
    const cuda = profileOptionsFromForm({ profile: ['buun-stack'], 'profile-option-buun-stack--variant': ['cuda'] });
    assert.deepEqual(applyProfile(PLATFORM, cuda, all).choice, { profile: 'buun-stack', options: { variant: 'cuda' }, unlisted: {} });
    assert.deepEqual(profileOptionsFromForm({}), {});
  });
  it('keeps fields of a profile whose slug extends the chosen one out', () => {
    assert.deepEqual(profileOptionsFromForm({ profile: 'a', 'profile-option-a--b--size': 'x', 'profile-option-a--size': 'y' }), { profile: 'a', size: 'y' });
  });
});
