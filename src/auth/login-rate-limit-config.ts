import { Type, type Static } from '@sinclair/typebox';

/** `auth.login_rate_limit`: options of the login rate limit (src/auth/login-rate-limit.ts), the same for every authenticator. */
export const LoginRateLimitSchema = Type.Object(
  {
    attempts: Type.Integer({
      minimum: 0,
      default: 10,
      description: 'Failed logins allowed per client address and, separately, per user name within `window_seconds`; more get 429 with `Retry-After`. 0: no limit.',
    }),
    window_seconds: Type.Number({
      exclusiveMinimum: 0,
      default: 60,
      description: 'Length of a counting window, in seconds, from the first login counted in it; when it ends, its count is forgotten. A successful login clears the user name\'s count.',
    }),
    max_tracked: Type.Integer({
      minimum: 1,
      default: 10000,
      description: 'Most client addresses (and, separately, user names) remembered at once; when full, expired entries go first, then the oldest. Bounds the memory used.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Limits failed logins per client address (`req.ip`: the `X-Forwarded-For` address only from `trusted_downstream_ips`; IPv6 by /64) and per user name. Counted in each hub process\'s memory: a restart forgets them, and several hub processes count apart.',
  },
);

export type LoginRateLimitOptions = Static<typeof LoginRateLimitSchema>;
