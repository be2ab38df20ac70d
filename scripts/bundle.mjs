// Bundles the CLI into one file (dist/ganymede.mjs): one module to load instead
// of several hundred, which halves the hub's start-up time. Native addons and
// the PostgreSQL driver and ssh2 stay outside the bundle.
import { build } from 'esbuild';

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // ssh2 loads optional native addons (cpu-features, sshcrypto) that esbuild cannot bundle
  external: ['better-sqlite3', 'pg', 'pg-native', 'ssh2', '@kubernetes/client-node'],
  // CommonJS dependencies call require(); give the ES module one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
};
await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/ganymede.mjs' });
// The proxy alone, so `ganymede proxy` does not load (and keep in memory) the hub.
await build({ ...common, entryPoints: ['src/proxy/builtin/cli.ts'], outfile: 'dist/ganymede-proxy.mjs' });
