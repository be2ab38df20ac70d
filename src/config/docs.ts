import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { ConfigSchema } from './schema.js';

interface OptionDoc {
  key: string;
  type: string;
  default: unknown;
  description: string;
}

function typeName(s: TSchema): string {
  switch (s[Kind]) {
    case 'Union':
      return (s as unknown as { anyOf: TSchema[] }).anyOf.map(typeName).join(' | ');
    case 'Literal':
      return JSON.stringify(s['const']);
    case 'Array':
      return `list of ${typeName(s['items'] as TSchema)}`;
    case 'Record': {
      // the values' type: a map of sections (`spawners:`, each entry a back-end as `spawner:`) is a map of objects
      const value = Object.values((s as unknown as { patternProperties?: Record<string, TSchema> }).patternProperties ?? {})[0];
      if (!value) return 'map';
      const isSection = value[Kind] === 'Object' || (value[Kind] === 'Union' && (value as unknown as { anyOf: TSchema[] }).anyOf.every((m) => m[Kind] === 'Object'));
      return `map of ${isSection ? 'object' : typeName(value)}`;
    }
    default:
      return String(s['type'] ?? s[Kind]).toLowerCase();
  }
}

/**
 * Every option of the schema, flattened to dotted keys, with type, default and
 * help; with `entries`, the keys of each entry of a list of objects too
 * (`services[].name`, for the reference).
 */
export function optionDocs(schema: TSchema = ConfigSchema, prefix = '', entries = false): OptionDoc[] {
  const out: OptionDoc[] = [];
  if (schema[Kind] === 'Union') return unionDocs((schema as unknown as { anyOf: TSchema[] }).anyOf, prefix, entries);
  for (const [name, sub] of Object.entries((schema as TObject).properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const isSection = (sub[Kind] === 'Object' || sub[Kind] === 'Union') && !(sub[Kind] === 'Union' && (sub as unknown as { anyOf: TSchema[] }).anyOf.every((m) => m[Kind] === 'Literal' || m[Kind] === 'Boolean'));
    if (isSection) out.push(...optionDocs(sub, key, entries));
    else out.push({ key, type: typeName(sub), default: sub['default'], description: String(sub['description'] ?? '') });
    const items = entries && sub[Kind] === 'Array' ? (sub['items'] as TSchema) : undefined;
    if (items?.[Kind] === 'Object') out.push(...optionDocs(items, `${key}[]`, entries));
  }
  return out;
}

/**
 * The options of a union of kinds (`auth`, `spawner`), each listed once: an
 * option every kind has alike (the common auth options, `kind` itself with
 * every kind's value) is written once; one that only some kinds have, or
 * that kinds have with different defaults or meanings (`req_runtime` of
 * `slurm` and of `firecrest`), gets a row per variant saying which kinds.
 */
function unionDocs(members: TSchema[], prefix: string, entries: boolean): OptionDoc[] {
  const kindOf = (m: TSchema): string | undefined => (m as TObject).properties?.['kind']?.['const'] as string | undefined;
  const variants = new Map<string, { doc: OptionDoc; kinds: string[]; types: string[] }>();
  for (const member of members) {
    for (const doc of optionDocs(member, prefix, entries)) {
      // `kind` differs by its value only: one row listing every value
      const id = doc.key.endsWith('.kind') || doc.key === 'kind' ? doc.key : `${doc.key}\u0000${JSON.stringify(doc.default)}\u0000${doc.description}`;
      const seen = variants.get(id);
      const kind = kindOf(member);
      if (!seen) variants.set(id, { doc, kinds: kind === undefined ? [] : [kind], types: [doc.type] });
      else {
        if (kind !== undefined) seen.kinds.push(kind);
        if (!seen.types.includes(doc.type)) seen.types.push(doc.type);
      }
    }
  }
  const all = members.map(kindOf).filter((k) => k !== undefined);
  // the variants of one key next to each other, in the order keys first appear
  const order = [...new Set([...variants.values()].map((v) => v.doc.key))];
  const rows = [...variants.values()].sort((a, b) => order.indexOf(a.doc.key) - order.indexOf(b.doc.key));
  return rows.map(({ doc, kinds, types }) => {
    const only = kinds.length < all.length ? `Only with \`kind: ${kinds.join('` or `kind: ')}\`. ` : '';
    return { ...doc, type: types.join(' | '), description: only + doc.description };
  });
}

/** docs/reference/config.md, generated (`npm run docs:gen`). */
export function configMarkdown(): string {
  const rows = optionDocs(ConfigSchema, '', true).map((o) => `| \`${o.key}\` | ${o.type.replaceAll('|', '\\|')} | ${o.default === undefined ? '—' : `\`${JSON.stringify(o.default)}\``} | ${o.description.replaceAll('|', '\\|')} |`);
  return `# Configuration reference

Generated from \`src/config/schema.ts\` by \`npm run docs:gen\`; do not edit by hand.

Options are read from a YAML file (\`--config FILE\` or \`GANYMEDE_CONFIG\`), or from a JavaScript module
(\`ganymede.config.js\`) whose default export is the same object plus optional \`hooks\`
(\`pre_spawn_hook\` or its older name \`preSpawnStart\`, \`post_stop_hook\`, \`auth_state_hook\`, \`modify_env\`,
\`optionsForm\`, \`optionsFromForm\`, \`postAuthHook\`; see [hooks.md](../hooks.md)). Command-line flags \`--ip\`, \`--port\` and
\`--data-dir\` override the file. Nested keys are written as YAML mappings (\`hub.port\` is \`hub: {port: 8081}\`).
An unknown key, a wrong type or a value out of range stops the hub with a message naming the key.

| key | type | default | description |
|---|---|---|---|
${rows.join('\n')}
`;
}
