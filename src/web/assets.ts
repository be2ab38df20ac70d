import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Hub } from '../hub/context.js';
import { FAVICON_ICO_BASE64 } from './favicon-ico.js';
import { GANYMEDE_LOGO_SVG } from './logo-svg.js';

/** Image types `logo_file` may have, by file extension. */
const IMAGE_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
};

/** Largest `logo_file` served. */
const MAX_LOGO_BYTES = 2 * 1024 * 1024;

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * The logo: `logo_file` when set and readable (read once, at start-up), else
 * Ganymede's own mark. A file that cannot be used is logged and replaced by
 * the mark, so pages never show a broken image.
 */
function loadLogo(hub: Hub): Asset {
  const own = { type: 'image/svg+xml', body: Buffer.from(GANYMEDE_LOGO_SVG) };
  const file = hub.config.logo_file;
  if (!file) return own;
  const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
  if (!type) {
    hub.log.error({ logo_file: file, known: Object.keys(IMAGE_TYPES) }, 'logo_file is not an image type the hub knows; using its own logo');
    return own;
  }
  try {
    const body = readFileSync(file);
    if (body.length > MAX_LOGO_BYTES) throw new Error(`larger than ${MAX_LOGO_BYTES} bytes`);
    return { type, body };
  } catch (err) {
    hub.log.error({ logo_file: file, err: (err as Error).message }, 'cannot read logo_file; using the hub\'s own logo');
    return own;
  }
}

function send(reply: FastifyReply, asset: Asset): FastifyReply {
  return (
    reply
      .header('Cache-Control', 'public, max-age=3600')
      // an SVG opened on its own runs no script and loads nothing
      .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
      .type(asset.type)
      .send(asset.body)
  );
}

/**
 * The images every Jupyter page asks the hub for: the logo at `<hub>/logo`
 * (JupyterHub's URL, used by single-user pages) and the favicon at
 * `<hub>/favicon.ico` and `/favicon.ico` (the proxy sends paths it has no
 * route for to the hub).
 */
export function assetRoutes(app: FastifyInstance, hub: Hub): void {
  const logo = loadLogo(hub);
  const favicon: Asset = { type: 'image/x-icon', body: Buffer.from(FAVICON_ICO_BASE64, 'base64') };
  app.get(`${hub.urls.hub}logo`, async (_req, reply) => send(reply, logo));
  app.get(`${hub.urls.hub}favicon.ico`, async (_req, reply) => send(reply, favicon));
  app.get('/favicon.ico', async (_req, reply) => send(reply, favicon));
  if (hub.urls.base !== '/') app.get(`${hub.urls.base}favicon.ico`, async (_req, reply) => send(reply, favicon));
}
