/**
 * Checks the user and group names written in the config (`admin_users`,
 * `allowed_users`, `blocked_users`, `roles[].users`, `roles[].groups`) against
 * the name rules of lib/names.ts, so a name the hub would refuse at login or
 * in the API is reported when the config is read, with the option it is in.
 */
import type { Config } from './schema.js';
import { groupNameProblem, normalizeUsername, usernameProblem } from '../lib/names.js';

/** One entry per bad name: the option with its index (`roles[0].users[1]`) and the problem; empty when every name is fine. */
export function configNameProblems(
  config: Pick<Config, 'admin_users' | 'allowed_users' | 'blocked_users' | 'roles'>,
): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const users = (option: string, names: readonly string[]) =>
    names.forEach((name, i) => {
      const p = usernameProblem(normalizeUsername(name));
      if (p) out.push({ key: `${option}[${i}]`, message: p });
    });
  users('admin_users', config.admin_users);
  users('allowed_users', config.allowed_users);
  users('blocked_users', config.blocked_users);
  config.roles.forEach((role, r) => {
    users(`roles[${r}].users`, role.users);
    role.groups.forEach((name, i) => {
      const p = groupNameProblem(name);
      if (p) out.push({ key: `roles[${r}].groups[${i}]`, message: p });
    });
  });
  return out;
}
