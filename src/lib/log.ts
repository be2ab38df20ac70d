import pino, { type Logger } from 'pino';

/** The hub's logger: JSON lines, with tokens, cookies and auth state redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          'token',
          'password',
          'auth_state',
          'authState',
          'env.JUPYTERHUB_API_TOKEN',
          'env.JPY_API_TOKEN',
          'env.CONFIGPROXY_AUTH_TOKEN',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
