import type { UserRow } from '../db/repos/users.js';
import type { Backend } from '../spawners/backends.js';
import type { SpawnUser, SpawnerState } from '../spawners/spawner.js';

/** What one spawn runs with, decided (and checked) before it is claimed (server-manager.ts), or read back to resume it (reattach.ts). */
export interface SpawnPlan {
  user: UserRow;
  spawnUser: SpawnUser;
  backend: Backend;
  /** The options the spawner gets (checked by it; without `backend`). */
  options: Record<string, unknown>;
  /** The options stored with the server (and shown in its model): `options` plus `backend` when the user picked one. */
  stored: Record<string, unknown>;
  authState: Record<string, unknown> | null;
  /** Set when a restarted hub resumes a spawn an earlier process began. */
  resumeState?: SpawnerState;
}
