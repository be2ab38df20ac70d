/**
 * Process entry of the built-in proxy:
 * `node --import tsx src/proxy/builtin/main.ts [configurable-http-proxy flags]`
 * (or `node dist/src/proxy/builtin/main.js` after a build).
 */
import { runProxyCli } from './cli.js';

runProxyCli(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ganymede-proxy: ${message}\n(--help lists the options)\n`);
  process.exit(2);
});
