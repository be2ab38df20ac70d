#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point: the compiled CLI lives in dist/ (`npm run build`): dist/ganymede.mjs for the
// hub and its commands, dist/ganymede-proxy.mjs for `ganymede proxy` alone.
// --max-semi-space-size=1 keeps the idle hub's memory low (its work is short-lived
// requests); run as `node bin/ganymede.js`, the same limit is set below, a little later.
import module from 'node:module';
import v8 from 'node:v8';

// Node 22+: cache compiled code between starts (a no-op on older Node).
module.enableCompileCache?.();

const args = process.argv.slice(2);
if (args[0] !== 'proxy' && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=1');
const run =
  args[0] === 'proxy'
    ? import('../dist/ganymede-proxy.mjs').then((m) => {
        if (args.includes('--help') || args.includes('-h')) return void process.stdout.write(m.PROXY_USAGE);
        return m.runProxyCli(args.slice(1));
      })
    : import('../dist/ganymede.mjs').then((m) => m.main(args));
run.catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(args[0] === 'proxy' ? 2 : 1);
});
