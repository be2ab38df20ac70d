// Bundles the CLI into one file (dist/ganymede.mjs): one module to load instead
// of several hundred, which halves the hub's start-up time. Native addons and
// the PostgreSQL driver and ssh2 stay outside the bundle.
import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * V8 keeps a module's whole source text in memory, one byte per character
 * only while every character is Latin-1: a single `…` or `−` would double
 * it (8.6 MB instead of 4.3 MB for the hub's bundle). esbuild escapes
 * non-ASCII in strings (charset: ascii) but keeps it in the comments it
 * carries over and in tagged templates, so escape what is left. A comment, a
 * string, a template's cooked text and a regular expression read `\uXXXX` as
 * the same character; only a tag that reads `strings.raw` would see the
 * escape (the hub's `html` tag reads the cooked text).
 */
function escapeNonAscii(file) {
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

for (const [entry, outfile] of [
  ['src/cli/main.ts', 'dist/ganymede.mjs'],
  // The proxy alone, so `ganymede proxy` does not load (and keep in memory) the hub.
  ['src/proxy/builtin/cli.ts', 'dist/ganymede-proxy.mjs'],
]) {
  await build({ ...common, entryPoints: [entry], outfile });
  escapeNonAscii(outfile);
}
