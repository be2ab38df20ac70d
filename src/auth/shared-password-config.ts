import { Type } from '@sinclair/typebox';
import { authKindSchema } from './common-options.js';

/** `auth:` with `kind: shared-password`: everyone logs in with one password (src/auth/shared-password.ts). */
export const SharedPasswordAuthSchema = authKindSchema('shared-password', {
  shared_password: Type.Optional(
    Type.String({
      minLength: 8,
      description:
        'The password every user logs in with. Also read from GANYMEDE_SHARED_PASSWORD. When neither is set, one is generated at first start, printed once and stored hashed.',
    }),
  ),
  admin_password: Type.Optional(
    Type.String({
      minLength: 8,
      description:
        'The password admins log in with (`admin_users`, and users made admin by the API or the admin role). Admins never log in with the shared password: without this option they cannot log in with this authenticator at all.',
    }),
  ),
  dev_users: Type.Array(Type.String(), {
    default: [],
    description:
      "Dev mode mimicking the BriCS JWT-header login: `<user>.<project>` entries (e.g. `[alice.proj1, alice.proj2, bob.proj1]`). When not empty, only these users log in (the user typed in the form, with the shared password; admins with `admin_password`), each with the projects auth state the JWT login gives: `{proj1: {name: proj1, username: alice.proj1}, ...}`. The user part ends at the first dot. Needs GANYMEDE_CRYPT_KEY (auth state is kept). From one variable: `dev_users: [\"${DEPLOY_CONFIG_DEV_USERS}\"]` (space-separated).",
  }),
});
