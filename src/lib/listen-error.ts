import net from 'node:net';
import { ConfigError } from './errors.js';

/** An address the hub or its proxy listens on, and the option (and flag) that sets it. */
export interface ListenSpec {
  /** What listens there, e.g. "the hub", "the proxy's REST API". */
  what: string;
  host: string;
  port: number;
  /** How to change it, e.g. "hub.port (or hub.ip)", "port (--port)". */
  option: string;
}

/**
 * Turns a failed `listen` (EADDRINUSE, EACCES, EADDRNOTAVAIL) into a
 * ConfigError naming what could not listen, where, why, and the option that
 * changes it; other errors are returned unchanged.
 */
export function listenError(err: unknown, spec: ListenSpec): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(
        `${spec.what} cannot listen on ${where}: the address is already in use (another Ganymede or JupyterHub on this machine?). ` +
          `Stop that program, or set ${spec.option} to a free port in the config (or run 'ganymede stop' if it is an earlier Ganymede of this data dir).`,
      );
    case 'EACCES':
      return new ConfigError(`${spec.what} cannot listen on ${where}: permission denied (ports below 1024 need privileges). Set ${spec.option} to a port above 1024.`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${spec.what} cannot listen on ${where}: no network interface has that address. Set ${spec.option} to an address of this machine.`);
    default:
      return err;
  }
}

/**
 * Checks that `spec` can be listened on now, by binding it and letting go at
 * once; throws listenError's ConfigError when not. Used before starting a
 * child process (the proxy) whose own failure would only show in its log file.
 */
export async function assertCanListen(spec: ListenSpec): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err) => reject(listenError(err, spec)));
    server.listen({ host: spec.host || undefined, port: spec.port, exclusive: true }, () => server.close(() => resolve()));
  });
}
