import { Type, type Static, type TObject, type TUnion } from '@sinclair/typebox';
import { SlurmSpawnerSchema } from './batch/batch-config.js';
import { FirecrestSpawnerSchema } from './firecrest/firecrest-config.js';
import { createFirecrestSpawner } from './firecrest/firecrest-spawner.js';
import { KubernetesSpawnerSchema } from './kubernetes/kubernetes-config.js';
import { createKubernetesSpawner } from './kubernetes/kubernetes-spawner.js';
import { createSlurmSpawner } from './batch/slurm-spawner.js';
import { LocalProcessSpawner } from './local-process.js';
import { LocalProcessSpawnerSchema } from './local-process-config.js';
import type { Spawner, SpawnerDeps } from './spawner.js';

/** One back-end: its options schema (built with `spawnerKindSchema`) and its constructor. */
export interface SpawnerBackend<S extends TObject = TObject> {
  schema: S;
  create(options: Static<S>, deps: SpawnerDeps): Spawner;
  /** True when the back-end acts as the user with their own access token (`SpawnerDeps.userTokens`): the login must keep one. */
  actsAsUser?: boolean;
}

/** Declares a back-end with its options typed from its schema. */
export function spawnerBackend<S extends TObject>(backend: SpawnerBackend<S>): SpawnerBackend<S> {
  return backend;
}

/**
 * Every spawner back-end, by `kind`. A new back-end is one entry here; its
 * schema lives next to it (`<kind>-config.ts`) and both `spawner:` and each
 * entry of `spawners:` accept it from then on (docs and template included).
 * The first entry is the default kind.
 */
export const SPAWNER_BACKENDS = {
  'local-process': spawnerBackend<typeof LocalProcessSpawnerSchema>({
    schema: LocalProcessSpawnerSchema,
    create: (s, deps): Spawner =>
      new LocalProcessSpawner({
        cmd: s.cmd,
        args: s.args,
        allowRoot: s.allow_root,
        ip: s.ip,
        notebookDir: s.notebook_dir,
        runAs: s.run_as,
        systemUserName: s.system_user_name,
        createSystemUsers: s.create_system_users,
        minUid: s.system_user_min_uid,
        log: deps.log,
      }),
  }),
  slurm: spawnerBackend<typeof SlurmSpawnerSchema>({ schema: SlurmSpawnerSchema, create: (s, deps): Spawner => createSlurmSpawner(s, deps) }),
  firecrest: spawnerBackend<typeof FirecrestSpawnerSchema>({ schema: FirecrestSpawnerSchema, create: (s, deps): Spawner => createFirecrestSpawner(s, deps), actsAsUser: true }),
  kubernetes: spawnerBackend<typeof KubernetesSpawnerSchema>({ schema: KubernetesSpawnerSchema, create: (s, deps): Spawner => createKubernetesSpawner(s, deps) }),
};

type SpawnerSchemas = (typeof SPAWNER_BACKENDS)[keyof typeof SPAWNER_BACKENDS]['schema'];

/** One back-end's configuration: the union of every back-end's schema. */
export function spawnerConfigSchema(description: string, def?: unknown): TUnion<SpawnerSchemas[]> {
  return Type.Union(
    Object.values(SPAWNER_BACKENDS).map((b) => b.schema),
    def === undefined ? { description } : { default: def, description },
  ) as unknown as TUnion<SpawnerSchemas[]>;
}

/** The validated options of any back-end. */
export type AnySpawnerConfig = Static<SpawnerSchemas>;

/** Builds the spawner for one back-end configuration. */
export function createSpawner(options: AnySpawnerConfig, deps: SpawnerDeps): Spawner {
  const backend = (SPAWNER_BACKENDS as Record<string, SpawnerBackend>)[options.kind];
  if (!backend) throw new Error(`unknown spawner kind ${JSON.stringify(options.kind)}`);
  return backend.create(options, deps);
}
