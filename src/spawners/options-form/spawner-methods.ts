/**
 * The three spawner methods of a back-end whose form is config-declared, as
 * one object to assign: a back-end (`kind: slurm`, FirecREST, Kubernetes)
 * builds an {@link OptionsForm} from its `form_fields` once and delegates
 * `optionsForm`, `optionsFromForm` and `checkOptions` to it.
 */
import type { OptionsContext, Spawner, SpawnUser } from '../spawner.js';
import type { CheckOptionsOpts, OptionsForm } from './options-form.js';

/** The spawner methods an {@link OptionsForm} provides. */
export type FormSpawnerMethods = Required<Pick<Spawner, 'optionsForm' | 'optionsFromForm' | 'checkOptions'>>;

/**
 * `optionsForm`, `optionsFromForm` and `checkOptions` backed by `form`;
 * `opts.extraKeys` names the `user_options` keys the back-end accepts beyond
 * the form's fields (it checks those itself), e.g.
 * `Object.assign(this, formSpawnerMethods(new OptionsForm(config.form_fields, 'spawner.form_fields')))`.
 */
export function formSpawnerMethods(form: OptionsForm, opts: CheckOptionsOpts = {}): FormSpawnerMethods {
  return {
    optionsForm: (user: SpawnUser, ctx?: { authState: Record<string, unknown> | null; previous: Record<string, unknown> }) =>
      form.render({ user, authState: ctx?.authState ?? null, previous: ctx?.previous ?? {} }),
    optionsFromForm: (posted: Record<string, string | string[]>, ctx?: OptionsContext) => form.fromForm(posted, ctx),
    checkOptions: (options: Record<string, unknown>, ctx: OptionsContext) => form.check(options, ctx, opts),
  };
}
