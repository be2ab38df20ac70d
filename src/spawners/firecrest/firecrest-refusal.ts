/**
 * FirecREST's error answers in plain words: the `ApiResponseError` body
 * (`{"errorType": "error" | "validation", "message": ..., "causedBy": [...]}`)
 * of a 4xx or 5xx turned into the part of a sentence after the colon. Pure.
 */
import { outsideText } from '../../lib/outside-text.js';

/**
 * What FirecREST said in error body `text` (raw, possibly not JSON): its
 * `message`, then its `causedBy` reasons, clipped and without control
 * characters; undefined when the body says nothing usable (empty, HTML, not
 * the error shape).
 */
export function refusalDetail(text: string | undefined): { detail?: string; errorType?: string } {
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  const b = body as Record<string, unknown>;
  const errorType = typeof b.errorType === 'string' && /^[a-z_]{1,32}$/.test(b.errorType) ? b.errorType : undefined;
  const parts: string[] = [];
  if (typeof b.message === 'string' && b.message.trim()) parts.push(outsideText(b.message));
  // FastAPI's own validation answer carries `detail` instead (a string or a list of {msg}).
  else if (typeof b.detail === 'string' && b.detail.trim()) parts.push(outsideText(b.detail));
  else if (Array.isArray(b.detail)) {
    for (const d of b.detail.slice(0, 3)) {
      if (typeof d === 'object' && d !== null && typeof (d as Record<string, unknown>).msg === 'string') parts.push(outsideText((d as Record<string, string>).msg, 120));
    }
  }
  if (Array.isArray(b.causedBy)) {
    const causes = b.causedBy.filter((c): c is string => typeof c === 'string' && c.trim() !== '').slice(0, 3).map((c) => outsideText(c, 120));
    if (causes.length > 0) parts.push(`(${causes.join('; ')})`);
  }
  const detail = parts.length > 0 ? outsideText(parts.join(' '), 400) : undefined;
  return { ...(detail ? { detail } : {}), ...(errorType ? { errorType } : {}) };
}
