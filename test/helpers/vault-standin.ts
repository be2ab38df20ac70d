/**
 * A stand-in for the two calls of HashiCorp Vault's token API the hook example
 * makes, as Vault's HTTP API documents them: `POST /v1/auth/token/create`
 * (the caller's token in `X-Vault-Token`, a JSON body with `policies`, `ttl`,
 * `renewable`, `display_name`, `meta`; the answer's `auth` holds
 * `client_token`, `accessor`, `policies`, `token_policies`, `metadata`,
 * `lease_duration`, `renewable`) and `POST /v1/auth/token/revoke-accessor`
 * (`{accessor}`, answered 204). A wrong token gets 403 `{errors: ["permission denied"]}`.
 * Listens on 127.0.0.1, on a port the system picks.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CreatedToken {
  body: Record<string, unknown>;
  clientToken: string;
  accessor: string;
}

export class VaultStandIn {
  readonly rootToken = `hvs.root-${randomBytes(8).toString('hex')}`;
  readonly created: CreatedToken[] = [];
  readonly revoked: string[] = [];
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => this.answer(req, raw, res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private answer(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'Content-Type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method !== 'POST') return send(405, { errors: ['unsupported operation'] });
    if (req.headers['x-vault-token'] !== this.rootToken) return send(403, { errors: ['permission denied'] });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw || '{}') as Record<string, unknown>;
    } catch {
      return send(400, { errors: ['failed to parse JSON input'] });
    }
    if (req.url === '/v1/auth/token/create') {
      const policies = body['policies'];
      if (!Array.isArray(policies) || !policies.every((p) => typeof p === 'string')) return send(400, { errors: ['policies must be a list of strings'] });
      const token: CreatedToken = { body, clientToken: `hvs.${randomBytes(12).toString('hex')}`, accessor: randomBytes(12).toString('hex') };
      this.created.push(token);
      const ttl = typeof body['ttl'] === 'string' ? parseTtl(body['ttl']) : 2764800;
      const all = ['default', ...policies];
      return send(200, {
        request_id: randomBytes(8).toString('hex'),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: null,
        wrap_info: null,
        warnings: null,
        auth: {
          client_token: token.clientToken,
          accessor: token.accessor,
          policies: all,
          token_policies: all,
          metadata: body['meta'] ?? null,
          lease_duration: ttl,
          renewable: body['renewable'] !== false,
          entity_id: '',
          token_type: 'service',
          orphan: false,
        },
      });
    }
    if (req.url === '/v1/auth/token/revoke-accessor') {
      const accessor = body['accessor'];
      if (!this.created.some((c) => c.accessor === accessor)) return send(400, { errors: ['invalid accessor'] });
      this.revoked.push(accessor as string);
      return send(204);
    }
    return send(404, { errors: [] });
  }
}

/** Vault's duration strings as the example uses them: `12h`, `30m`, `45s`, or seconds. */
function parseTtl(ttl: string): number {
  const m = /^(\d+)([hms]?)$/.exec(ttl);
  if (!m) return 0;
  return Number(m[1]) * ({ h: 3600, m: 60, s: 1, '': 1 } as Record<string, number>)[m[2]!]!;
}
