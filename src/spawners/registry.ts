import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { LocalProcessSpawner } from './local-process.js';
import type { Spawner } from './spawner.js';

/** Builds the spawner named by `spawner.kind`; `log` gets its start-up warnings. A new backend adds one case here. */
export function createSpawner(config: Config, log?: Logger): Spawner {
  const s = config.spawner;
  switch (s.kind) {
    case 'local-process':
      return new LocalProcessSpawner({
        cmd: s.cmd,
        args: s.args,
        allowRoot: s.allow_root,
        ip: s.ip,
        notebookDir: s.notebook_dir,
        runAs: s.run_as,
        systemUserName: s.system_user_name,
        createSystemUsers: s.create_system_users,
        minUid: s.system_user_min_uid,
        log,
      });
  }
}
