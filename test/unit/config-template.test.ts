import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { Type } from '@sinclair/typebox';
import { validateConfig } from '../../src/config/load.js';
import { configTemplate } from '../../src/config/template.js';
import { optionDocs } from '../../src/config/docs.js';

/** What a user does to a generated template: remove the leading `# ` of every line that has one. */
function uncommentAll(template: string): string {
  return template
    .split('\n')
    .map((line) => line.replace(/^# /, ''))
    .join('\n');
}

describe('config generate (issue 9: nested options)', () => {
  it('gives valid nested YAML once every option line is uncommented, and that config is the default one', () => {
    const template = configTemplate();
    const raw = YAML.parse(uncommentAll(template)) as Record<string, unknown>;
    assert.equal(typeof raw, 'object');
    assert.deepEqual(raw['hub'], { ip: '127.0.0.1', port: 8081 });
    assert.equal((raw['proxy'] as Record<string, unknown>)['api_url'], 'http://127.0.0.1:8001');
    assert.deepEqual(validateConfig(raw), validateConfig({}));
  });

  it('writes no dotted key and keeps every option with a default', () => {
    const template = configTemplate();
    assert.doesNotMatch(template, /^# [a-z_]+\.[a-z_]+:/m, 'no "# hub.port:" lines');
    const uncommented = uncommentAll(template);
    for (const o of optionDocs()) {
      // a union (auth, spawner) shows its default kind's options; the other kinds' are in the reference only
      const only = /^Only with (`kind: [^`]+`(?: or )?)+\./.exec(o.description)?.[0];
      if (only && !only.includes('`kind: shared-password`') && !only.includes('`kind: local-process`')) continue;
      const leaf = o.key.split('.').pop()!;
      if (o.default === undefined) {
        assert.match(template, new RegExp(`^# +# ${leaf}:$`, 'm'), `${o.key}: shown as an example line`);
      } else {
        const depth = o.key.split('.').length - 1;
        assert.match(uncommented, new RegExp(`^${'  '.repeat(depth)}${leaf}: `, 'm'), `${o.key}: an option line at depth ${depth}`);
      }
    }
  });

  it('keeps help text a comment after uncommenting, and each option with its help', () => {
    const uncommented = uncommentAll(configTemplate());
    assert.match(uncommented, /^ {2}# The port the hub process binds to\.\n {2}port: 8081$/m);
    assert.match(uncommented, /^# The public port the proxy listens on\.\nport: 8000$/m);
  });

  it('nests any depth, and an uncommented example line of an option without default becomes valid', () => {
    const schema = Type.Object({
      a: Type.Object({ b: Type.Object({ c: Type.Integer({ default: 3, description: 'the c option' }) }, { default: {} }) }, { default: {} }),
      d: Type.Optional(Type.String({ description: 'the d option' })),
    });
    const template = configTemplate(schema);
    assert.deepEqual(YAML.parse(uncommentAll(template)), { a: { b: { c: 3 } } });
    const withD = uncommentAll(uncommentAll(template).replace('# d:', '# d: x'));
    assert.equal((YAML.parse(withD) as Record<string, unknown>)['d'], 'x');
  });
});

describe('config check (issue 9: every problem at once)', () => {
  it('reports every problem, each with its key and what is wrong', () => {
    let message = '';
    try {
      validateConfig({ port: 'eighty', hub: { prot: 1, ip: 3 }, start_timout: 5, spawner: { kind: 'local-process', cmd: [] }, auth: { shared_password: 'short' } });
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, /^config: 6 problems:/);
    assert.match(message, /^ {2}port: expected integer, got "eighty"$/m);
    assert.match(message, /^ {2}hub\.prot: unknown option \(did you mean "port"\?\)$/m);
    assert.match(message, /^ {2}hub\.ip: expected string, got 3$/m);
    assert.match(message, /^ {2}start_timout: unknown option \(did you mean "start_timeout"\?\)$/m);
    assert.match(message, /^ {2}spawner\.cmd: .*1.*got \[\]$/m);
    assert.match(message, /^ {2}auth\.shared_password: .*8.*got a value not shown \(a secret\)$/m);
    assert.doesNotMatch(message, /short/);
  });

  it('keeps the one-line form for a single problem, and reports the cross-option check', () => {
    assert.throws(() => validateConfig({ port: 70000 }), /ConfigError: config: port: .*65535.*got 70000$/);
    assert.throws(() => validateConfig({ api_page_default_limit: 300 }), /config: api_page_default_limit: 300 must not exceed api_page_max_limit \(200\)/);
  });
});
