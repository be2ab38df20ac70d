import { Writable } from 'node:stream';

/**
 * A pino destination for terminals: each JSON line is written as
 * `HH:MM:SS.mmm LEVEL msg key=value ...`, coloured when `color` is set, with an
 * error's stack on the lines below. Lines that are not JSON are passed through.
 * Fields have already been sanitized (src/lib/log-sanitize.ts) before pino
 * wrote them, so nothing here can put a raw control character on the terminal.
 */
export function prettyLogStream(out: NodeJS.WritableStream, opts: { color: boolean }): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      let nl: number;
      let text = '';
      while ((nl = pending.indexOf('\n')) >= 0) {
        text += formatLogLine(pending.slice(0, nl), opts.color);
        pending = pending.slice(nl + 1);
      }
      if (text) out.write(text);
      done();
    },
    final(done) {
      if (pending) out.write(formatLogLine(pending, opts.color));
      done();
    },
  });
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};

/** One pino JSON line as a terminal line (ending in a newline). */
export function formatLogLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${line}\n`;
  }
  if (rec === null || typeof rec !== 'object') return `${line}\n`;
  const { level, time, msg, err, ...rest } = rec;
  delete rest['pid'];
  delete rest['hostname'];
  const [name, code] = LEVELS[Number(level)] ?? [String(level), '0'];
  const paint = (c: string, s: string) => (color ? `\u001b[${c}m${s}\u001b[0m` : s);
  const when = typeof time === 'number' ? new Date(time).toTimeString().slice(0, 8) + `.${String(time % 1000).padStart(3, '0')}` : '';
  const fields = Object.entries(rest).map(([k, v]) => `${paint('2', `${k}=`)}${typeof v === 'string' ? v : JSON.stringify(v)}`);
  let text = `${paint('2', when)} ${paint(code, name)} ${typeof msg === 'string' ? msg : ''}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
  if (err !== undefined) {
    const e = err as { stack?: unknown; message?: unknown };
    const detail = typeof e.stack === 'string' ? e.stack : typeof e.message === 'string' ? e.message : JSON.stringify(err);
    text += `${detail.replace(/^/gm, '    ')}\n`;
  }
  return text;
}
