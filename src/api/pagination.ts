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

/** The largest offset or limit a query may give (2^53 - 1: exact in JavaScript and in every SQL dialect's integer). */
export const MAX_QUERY_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * A query parameter holding a whole number from 0 to {@link MAX_QUERY_INTEGER},
 * written in plain decimal digits (no sign, exponent, fraction or white space),
 * or undefined when absent or empty. Anything else is a 400 naming the
 * parameter: such a value would otherwise reach SQL as a float or an
 * out-of-range integer (a 500).
 */
export function queryInteger(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new HubError(400, `Invalid ${name} parameter: give it once, as a whole number`);
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(n <= MAX_QUERY_INTEGER)) {
    const shown = value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
    throw new HubError(400, `Invalid ${name} parameter: ${shown}; expected a whole number from 0 to ${MAX_QUERY_INTEGER}`);
  }
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
  const offset = queryInteger(q['offset'], 'offset') ?? 0;
  let limit = queryInteger(q['limit'], 'limit') ?? (envelope ? config.api_page_default_limit : config.api_page_max_limit);
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
