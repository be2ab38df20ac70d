/**
 * Turning what @kubernetes/client-node throws into {@link KubeApiError}s:
 * the HTTP status, the Status object's reason, and a short sentence built
 * from known fields only (the client's own message lists headers; the
 * Status message from the server is cut and kept printable).
 */
import { outsideText } from '../../lib/outside-text.js';
import { KubeApiError } from './kube-api.js';

/** The Status object's fields we read, when the body is one. */
function statusBody(body: unknown): { reason?: string; message?: string } {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return {};
    }
  }
  if (!value || typeof value !== 'object') return {};
  const { reason, message } = value as Record<string, unknown>;
  return { reason: typeof reason === 'string' && /^[A-Za-z]{1,64}$/.test(reason) ? reason : undefined, message: typeof message === 'string' ? message : undefined };
}

/** The server's message, printable and at most 300 characters ({@link outsideText}). */
function cleanMessage(text: string): string {
  return outsideText(text, 300);
}

/** The reason the API server gives for a status when the body has none. */
const REASON_BY_STATUS: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'AlreadyExists', 410: 'Expired', 422: 'Invalid' };

/** A {@link KubeApiError} for a failed `what` (e.g. `create pod ns/name`); `err` is anything client-node threw. */
export function kubeApiErrorFrom(what: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; body?: unknown; name?: unknown };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : 0;
  if (status === 0) {
    const kind = e.name === 'AbortError' ? 'was aborted' : 'could not reach the Kubernetes API';
    const code = typeof e.code === 'string' && /^[A-Z_]{1,40}$/.test(e.code) ? ` (${e.code})` : '';
    // The client's own sentence (a refused connection, a TLS or config problem); never one with headers in it.
    const said = err instanceof Error && err.message && !/authorization|bearer|token/i.test(err.message) ? `: ${cleanMessage(err.message)}` : '';
    return new KubeApiError(`Kubernetes: ${what} ${kind}${code}${said}.`, 0);
  }
  const body = statusBody(e.body);
  const reason = body.reason ?? REASON_BY_STATUS[status];
  const detail = body.message ? `: ${cleanMessage(body.message)}` : '';
  return new KubeApiError(`Kubernetes: ${what} failed with HTTP ${status}${reason ? ` (${reason})` : ''}${detail}.`, status, reason);
}

/** The error of a call that did not answer within `ms`. */
export function timedOut(what: string, ms: number): KubeApiError {
  return new KubeApiError(`Kubernetes: ${what} did not answer within ${ms / 1000} s (request_timeout).`, 0);
}
