import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { HubError } from '../lib/errors.js';

export const PAGINATION_MEDIA_TYPE = 'application/jupyterhub-pagination+json';

export interface Page {
  offset: number;
  limit: number;
  /** The client asked for the pagination envelope (Accept header). */
  envelope: boolean;
}

function nonNegativeInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new HubError(400, `Invalid ${name} parameter: ${JSON.stringify(value)}; expected a non-negative integer`);
  return n;
}

/**
 * Reads `offset` and `limit` as JupyterHub does: a limit above
 * api_page_max_limit is capped; without the pagination Accept header and
 * without a limit, up to api_page_max_limit items are returned as a bare list.
 */
export function readPage(req: FastifyRequest, config: Config): Page {
  const q = req.query as Record<string, unknown>;
  const envelope = (req.headers.accept ?? '').includes(PAGINATION_MEDIA_TYPE);
  const offset = nonNegativeInt(q['offset'], 'offset') ?? 0;
  let limit = nonNegativeInt(q['limit'], 'limit') ?? (envelope ? config.api_page_default_limit : config.api_page_max_limit);
  if (limit === 0) limit = config.api_page_default_limit;
  limit = Math.min(limit, config.api_page_max_limit);
  return { offset, limit, envelope };
}

/** Wraps a page of items in JupyterHub's pagination envelope, or returns the bare list. */
export function paginated(req: FastifyRequest, page: Page, items: unknown[], total: number): unknown {
  if (!page.envelope) return items;
  const nextOffset = page.offset + page.limit;
  let next: { offset: number; limit: number; url: string } | null = null;
  if (nextOffset < total) {
    const url = new URL(req.url, 'http://hub.invalid');
    url.searchParams.set('offset', String(nextOffset));
    url.searchParams.set('limit', String(page.limit));
    next = { offset: nextOffset, limit: page.limit, url: `${url.pathname}${url.search}` };
  }
  return { items, _pagination: { offset: page.offset, limit: page.limit, total, next } };
}
