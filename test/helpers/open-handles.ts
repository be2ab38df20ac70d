/**
 * Loaded into every test file's process (scripts/test.sh, `--import`). Once
 * the file's tests are done, its process should end by itself. If something
 * the file opened (a timer, a socket, a child process) keeps it alive
 * LINGER_MS longer, this prints the file's name and what is still open, then
 * ends the process: a leak shows as one line, instead of holding CI up until
 * the file's timeout (--test-timeout), where the report names no cause.
 *
 * The clock starts when the file's end hooks start (this hook is registered
 * first), so LINGER_MS also covers the file's own top-level `after` hooks.
 */
import { after } from 'node:test';

const LINGER_MS = 60_000;
const STDIO = new Set(['TTYWrap', 'PipeWrap', 'CloseReq']);

after(() => {
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => !STDIO.has(r));
    process.stderr.write(`${process.argv[1] ?? 'a test file'} was still running ${LINGER_MS / 1000} s after its tests ended; open: ${open.join(', ') || 'nothing listed'}\n`);
    process.exit();
  }, LINGER_MS).unref();
});
