import { Type, type TLiteral, type TObject, type TProperties } from '@sinclair/typebox';

/**
 * The options every spawner back-end has next to its own, whether it is the
 * single `spawner:` or one entry of `spawners:` (how the spawn form shows it
 * and who may use it). src/spawners/backends.ts applies them.
 */
export const CommonSpawnerOptions = {
  display_name: Type.String({ default: '', description: 'How the spawn form names this back-end when there are several (default: its key in `spawners:`).' }),
  description: Type.String({ default: '', description: 'One line the spawn form shows under the back-end name.' }),
  allowed_groups: Type.Array(Type.String(), {
    default: [],
    description: 'Only members of one of these hub groups (and admins) may start servers on this back-end. Empty: every user.',
  }),
};

/** A back-end's options schema: `kind`, the common options and its own `props`. */
export function spawnerKindSchema<K extends string, P extends TProperties>(
  kind: K,
  props: P,
  description: string,
): TObject<{ kind: TLiteral<K> } & typeof CommonSpawnerOptions & P> {
  const properties = { kind: Type.Literal(kind, { default: kind, description: 'Which back-end runs servers.' }), ...CommonSpawnerOptions, ...props };
  return Type.Object(properties, { additionalProperties: false, description }) as unknown as TObject<{ kind: TLiteral<K> } & typeof CommonSpawnerOptions & P>;
}
