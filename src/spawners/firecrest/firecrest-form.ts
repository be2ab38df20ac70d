/**
 * STUB (part "form" writes the real one; replaced at merge): the spawn form
 * of a FirecREST system.
 */
import type { FirecrestPartition, FirecrestUserInfo } from './firecrest-api.js';
import type { FirecrestSpawnerConfig } from './firecrest-config.js';

/** The user's FirecREST answers the form needs, bound to the user's token by the spawner. */
export interface FirecrestFormSources {
  userinfo(): Promise<FirecrestUserInfo>;
  partitions(): Promise<FirecrestPartition[]>;
}

/** Checked options, as saved in user_options (JSON). */
export interface FirecrestChoices {
  account?: string;
  partition?: string;
  nnodes: number;
  runtime: number;
  reservation?: string;
  environment?: string;
  custom_environment?: string;
}

/** STUB form. */
export class FirecrestForm {
  constructor(
    readonly config: FirecrestSpawnerConfig,
    readonly backendName: string,
  ) {}
  render(_sources: FirecrestFormSources, _previous: Record<string, unknown>): Promise<string> {
    return Promise.resolve('');
  }
  fromForm(posted: Record<string, string | string[]>): Record<string, unknown> {
    return { ...posted };
  }
  async check(options: Record<string, unknown>, _sources: FirecrestFormSources): Promise<FirecrestChoices> {
    return { nnodes: Number(options['nnodes'] ?? this.config.req_nnodes), runtime: Number(options['runtime'] ?? 1) };
  }
}

/** STUB: what the script and the job description get. */
export function jobChoices(
  config: FirecrestSpawnerConfig,
  choices: FirecrestChoices,
  userinfo: FirecrestUserInfo,
): {
  account?: string; partition?: string; reservation?: string; constraint?: string; nnodes: number;
  runtime: string; environment?: string; uenv?: string; uenv_view?: string; container_image?: string;
} {
  const account = choices.account ?? (config.req_account || userinfo.accounts?.find((a) => a.default)?.name || userinfo.group.name);
  const partition = choices.partition ?? (config.req_partition || undefined);
  return {
    account,
    ...(partition ? { partition } : {}),
    nnodes: choices.nnodes,
    runtime: config.req_runtime,
  };
}
