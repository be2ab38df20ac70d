#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point: the compiled CLI lives in dist/ (`npm run build`).
// --max-semi-space-size=1 keeps the idle hub's memory low (its work is short-lived
// requests); run as `node bin/ganymede.js`, the same limit is set below, a little later.
import module from 'node:module';
import v8 from 'node:v8';

if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=1');
// Node 22+: cache compiled code between starts (a no-op on older Node).
module.enableCompileCache?.();

import('../dist/ganymede.mjs').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
