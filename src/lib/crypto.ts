import * as crypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

/** A new random token: 32 hex characters, as JupyterHub's API tokens. */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/** Length of the stored token prefix used to find candidate rows. */
export const TOKEN_PREFIX_LENGTH = 4;

/** node's one-call hash (20.12+), about twice as fast as a Hash object: every API request hashes its token. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function sha256(text: string): string {
  return oneShotHash ? oneShotHash('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Hashes a password with scrypt and a random salt: `scrypt$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltB64, hashB64] = stored.split('$');
  if (scheme !== 'scrypt' || !saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

/**
 * Encrypts auth state with AES-256-GCM. Keys come from GANYMEDE_CRYPT_KEY
 * (also JUPYTERHUB_CRYPT_KEY): one or more 32-byte keys, hex or base64,
 * separated by `;`. The first encrypts; all are tried to decrypt, so keys can be rotated.
 */
export class CryptKeeper {
  private readonly keys: Buffer[];

  constructor(keys: Buffer[]) {
    this.keys = keys;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CryptKeeper {
    const raw = env['GANYMEDE_CRYPT_KEY'] ?? env['JUPYTERHUB_CRYPT_KEY'] ?? '';
    const keys = raw
      .split(/[;,]/)
      .map((k) => k.trim())
      .filter((k) => k.length > 0)
      .map((k, i) => {
        const buf = /^[0-9a-fA-F]{64}$/.test(k) ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64');
        if (buf.length !== 32) throw new Error(`GANYMEDE_CRYPT_KEY: key ${i + 1} must be 32 bytes (64 hex characters or base64), got ${buf.length} bytes`);
        return buf;
      });
    return new CryptKeeper(keys);
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  encrypt(plain: unknown): string {
    const key = this.keys[0];
    if (!key) throw new Error('auth state cannot be stored: set GANYMEDE_CRYPT_KEY to enable encryption');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${body.toString('base64')}`;
  }

  decrypt(text: string): unknown {
    const [version, ivB64, tagB64, bodyB64] = text.split('.');
    if (version !== 'v1' || !ivB64 || !tagB64 || bodyB64 === undefined) throw new Error('auth state: unknown format');
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivB64, 'base64'));
        decipher.setAuthTag(Buffer.from(tagB64, 'base64'));
        const plain = Buffer.concat([decipher.update(Buffer.from(bodyB64, 'base64')), decipher.final()]);
        return JSON.parse(plain.toString('utf8'));
      } catch {
        // try the next key
      }
    }
    throw new Error('auth state: no configured key decrypts it');
  }
}
