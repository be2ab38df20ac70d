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
});
