#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (`npm run build`).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
