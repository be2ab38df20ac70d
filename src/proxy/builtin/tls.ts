/**
 * TLS termination on the public port: an HTTPS (HTTP/1.1) server from PEM
 * files, and a poll that reloads the certificate when the files change. Also
 * the API port's HTTPS options and the client certificate for https targets
 * (CHP's `--api-ssl-*` and `--client-ssl-*`, read once at start as CHP does).
 * Polling `stat` (which follows symlinks) copes with cert-manager's and
 * Kubernetes' symlink swaps, which `fs.watch` can miss.
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type https from 'node:https';
import tls from 'node:tls';
import type { Logger } from 'pino';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Intermediate CA certificates sent with the certificate (CHP `--ssl-ca`). */
  caFile?: string | undefined;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Reads the pair synchronously (at start: a bad pair must stop the proxy). */
export function readKeyPair(files: TlsFiles): KeyPair {
  const pair: KeyPair = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  if (files.caFile !== undefined) pair.ca = readFileSync(files.caFile);
  tls.createSecureContext(pair); // throws on a bad or mismatched pair
  return pair;
}

async function readKeyPairAsync(files: TlsFiles): Promise<KeyPair> {
  const pair: KeyPair = { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
  if (files.caFile !== undefined) pair.ca = await readFile(files.caFile);
  return pair;
}

async function fingerprint(file: string): Promise<string> {
  const s = await stat(file);
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/**
 * Polls the files (certificate, key and CA chain if any) every `intervalMs`; when either changes, loads the new
 * pair and installs it with `setSecureContext`. A pair that cannot be read or
 * does not fit together is logged and the old one kept (it is tried again
 * when the files change once more). Returns a function that stops the poll.
 */
export function watchKeyPair(server: https.Server, files: TlsFiles, log: Logger, intervalMs = 2000): () => void {
  let last: string | undefined;
  let busy = false;
  let stopped = false;
  const current = async (): Promise<string> =>
    `${await fingerprint(files.certFile)}|${await fingerprint(files.keyFile)}|${files.caFile === undefined ? '' : await fingerprint(files.caFile)}`;
  current().then(
    (fp) => {
      last ??= fp;
    },
    () => undefined,
  );
  const check = async (): Promise<void> => {
    let fp: string;
    try {
      fp = await current();
    } catch (err) {
      log.error({ err: String(err) }, 'cannot stat the TLS certificate or key; keeping the old pair');
      return;
    }
    if (fp === last) return;
    last = fp;
    try {
      const pair = await readKeyPairAsync(files);
      tls.createSecureContext(pair);
      if (stopped) return;
      server.setSecureContext(pair);
      log.info({ cert: files.certFile }, 'reloaded the TLS certificate');
    } catch (err) {
      log.error({ err: String(err), cert: files.certFile, key: files.keyFile }, 'new TLS certificate or key is not valid; keeping the old pair');
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check().finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** `--api-ssl-*`: the API port over HTTPS (JupyterHub's `internal_ssl` passes these). */
export interface ApiTlsFiles {
  certFile: string;
  keyFile: string;
  /** CA certificates API client certificates are checked against. */
  caFile?: string | undefined;
  /** Ask clients for a certificate. */
  requestCert: boolean;
  /** Refuse clients without a valid one (with `requestCert`). */
  rejectUnauthorized: boolean;
}

/** The HTTPS server options of the API port, read at start (a bad file stops the proxy). */
export function apiServerOptions(files: ApiTlsFiles): https.ServerOptions {
  const options: https.ServerOptions = {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    requestCert: files.requestCert,
    rejectUnauthorized: files.requestCert && files.rejectUnauthorized,
  };
  if (files.caFile !== undefined) options.ca = readFileSync(files.caFile);
  tls.createSecureContext(options); // throws on a bad or mismatched pair
  return options;
}

/** `--client-ssl-*`: what this proxy presents to https targets, and what it checks them against. */
export interface ClientTlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** CA certificates targets are checked against, in place of the system's. */
  caFile?: string | undefined;
}

/** The TLS material of `files`, read at start. */
export interface ClientTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

export function readClientTls(files: ClientTlsFiles): ClientTls {
  const out: ClientTls = {};
  if (files.certFile !== undefined) out.cert = readFileSync(files.certFile);
  if (files.keyFile !== undefined) out.key = readFileSync(files.keyFile);
  if (files.caFile !== undefined) out.ca = readFileSync(files.caFile);
  tls.createSecureContext(out); // throws on a bad or mismatched pair
  return out;
}
