import { Type } from '@sinclair/typebox';

/**
 * The built-in idle culler's options (`cull:`), as jupyterhub-idle-culler's
 * flags and Z2JH's `cull.*` values. Placeholder: filled in by the culler work.
 */
export const CullConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Run the built-in idle culler.' }),
  },
  { additionalProperties: false, default: {}, description: 'The built-in idle culler (`cull.enabled`, `cull.timeout`, `cull.every`, ...).' },
);
