import { readFileSync, statSync } from 'node:fs';

/**
 * The client secret, from the config or from a file read again whenever its
 * modification time (or size) changes: a secret rotated by the platform (a
 * Kubernetes Secret fed by Vault) is used at the next login without a restart.
 * Throws when the file cannot be read or is empty, naming the file.
 */
export class ClientSecretSource {
  private cached: { key: string; value: string } | undefined;

  constructor(
    private readonly secret: string | undefined,
    private readonly file: string | undefined,
  ) {}

  /** The current secret, or undefined for a public client. */
  get(): string | undefined {
    if (!this.file) return this.secret;
    let key: string;
    try {
      const st = statSync(this.file);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      throw new Error(`auth.client_secret_file ${this.file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    if (this.cached?.key === key) return this.cached.value;
    const value = readFileSync(this.file, 'utf8').trim();
    if (!value) throw new Error(`auth.client_secret_file ${this.file} is empty`);
    this.cached = { key, value };
    return value;
  }
}
