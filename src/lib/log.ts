import pino, { type Logger } from 'pino';
import { cleanLogString, REDACTED, sanitizeLogFields } from './log-sanitize.js';
import pinoPretty from 'pino-pretty';

/** How log lines are written: `json` (one JSON object a line), `pretty` (for people), `auto` (pretty on a terminal). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  /** `auto` (default): pretty when the output is a terminal, JSON otherwise. */
  format?: LogFormat;
  /** Where lines go (default: stdout). */
  destination?: pino.DestinationStream;
  /** Fields on every line (default: `{pid}`). */
  base?: Record<string, unknown>;
}

/**
 * The hub's logger. Every line goes through the sanitizer (src/lib/log-sanitize.ts):
 * strings clipped and control characters escaped, secrets (tokens, cookies,
 * passwords, `authorization` headers, auth state) redacted, whatever the call
 * site. JSON lines unless `format` asks for (or `auto` finds a terminal for)
 * the pretty form.
 */
export function createLogger(level: string, opts: LoggerOptions | pino.DestinationStream = {}): Logger {
  const { format = 'auto', destination, base = { pid: process.pid } } = 'write' in opts ? { destination: opts as pino.DestinationStream } : (opts as LoggerOptions);
  const out = (destination ?? process.stdout) as NodeJS.WritableStream & { isTTY?: boolean };
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  // pino-pretty, synchronous so a crash loses no line; fields were sanitized before it sees them
  const stream = pretty
    ? pinoPretty({
        destination: out,
        sync: true,
        colorize: out.isTTY === true && !process.env['NO_COLOR'],
        singleLine: true,
        ignore: 'pid,hostname',
        translateTime: 'HH:MM:ss.l',
      })
    : destination;
  const logger = pino(
    {
      level,
      base,
      formatters: {
        bindings: (bindings) => sanitizeLogFields(bindings),
        log: (fields) => sanitizeLogFields(fields),
      },
      // errors were cleaned by the formatter already; pino's serializer would retype them `Object`
      serializers: { err: (v: unknown) => (v instanceof Error ? sanitizeLogFields({ err: v })['err'] : v) },
      hooks: {
        // the message and printf-style arguments: strings are cleaned like fields
        logMethod(args, method) {
          const cleaned: unknown[] = args.map((a: unknown) => (typeof a === 'string' ? cleanLogString(a) : a));
          // without a message, pino uses the error's (raw) message: give it the cleaned one
          const first = cleaned[0] as { err?: unknown; msg?: unknown } | null;
          if (cleaned.length === 1 && first !== null && typeof first === 'object') {
            const err = first instanceof Error ? first : first.msg === undefined && first.err instanceof Error ? first.err : undefined;
            if (err) cleaned.push(cleanLogString(err.message));
          }
          method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
      // Also pino's own redaction, for serializers that run after the formatter (req, res, err).
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie'],
        censor: REDACTED,
      },
    },
    stream,
  );
  // pino applies `formatters.bindings` to the root logger only: clean the bindings of every child here
  const child = Object.getPrototypeOf(logger).child as Logger['child'];
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, sanitizeLogFields(bindings), options);
  } as Logger['child'];
  return logger;
}

export type { Logger };
