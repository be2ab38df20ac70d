/**
 * One error base for the whole hub. The API layer turns any HubError into
 * JupyterHub's JSON error body `{"status": N, "message": "..."}` in one place
 * (src/api/errors.ts); pages render the same message.
 */
export type HubErrorCode =
  | 'HUB_BAD_REQUEST'
  | 'HUB_UNAUTHORIZED'
  | 'HUB_FORBIDDEN'
  | 'HUB_NOT_FOUND'
  | 'HUB_CONFLICT'
  | 'HUB_TOO_MANY_REQUESTS'
  | 'HUB_PAYLOAD_TOO_LARGE'
  | 'HUB_SPAWN_FAILED'
  | 'HUB_SPAWN_TIMEOUT'
  | 'HUB_PROXY_ERROR'
  | 'HUB_CONFIG_ERROR'
  | 'HUB_INTERNAL';

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly status: number;
  /** Extra detail for the operator's log only; never sent to the client. */
  readonly logMessage: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    opts: { code?: HubErrorCode; logMessage?: string; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HubError';
    this.status = status;
    this.code = opts.code ?? codeForStatus(status);
    this.logMessage = opts.logMessage;
    this.headers = opts.headers ?? {};
  }
}

function codeForStatus(status: number): HubErrorCode {
  switch (status) {
    case 400:
      return 'HUB_BAD_REQUEST';
    case 401:
      return 'HUB_UNAUTHORIZED';
    case 403:
      return 'HUB_FORBIDDEN';
    case 404:
      return 'HUB_NOT_FOUND';
    case 409:
      return 'HUB_CONFLICT';
    case 413:
      return 'HUB_PAYLOAD_TOO_LARGE';
    case 429:
      return 'HUB_TOO_MANY_REQUESTS';
    default:
      return 'HUB_INTERNAL';
  }
}

export const badRequest = (message: string): HubError => new HubError(400, message);
export const forbidden = (message: string): HubError => new HubError(403, message);
export const notFound = (message: string): HubError => new HubError(404, message);

/** A spawn that failed. `reason` is a short label for metrics and logs. */
export class SpawnError extends HubError {
  readonly reason: string;
  constructor(message: string, reason: string, opts: { status?: number; logMessage?: string; cause?: unknown } = {}) {
    super(opts.status ?? 500, message, {
      code: reason === 'timeout' ? 'HUB_SPAWN_TIMEOUT' : 'HUB_SPAWN_FAILED',
      ...(opts.logMessage === undefined ? {} : { logMessage: opts.logMessage }),
      cause: opts.cause,
    });
    this.name = 'SpawnError';
    this.reason = reason;
  }
}

/** A call to the proxy's REST API failed (unreachable, refused, bad answer). */
export class ProxyError extends HubError {
  constructor(message: string, opts: { cause?: unknown; logMessage?: string } = {}) {
    super(502, message, { code: 'HUB_PROXY_ERROR', ...opts });
    this.name = 'ProxyError';
  }
}

/** Configuration that cannot be used: names the key, the value and what was expected. */
export class ConfigError extends HubError {
  /** Each thing wrong, one line each (`key: what is wrong`); the message when not given. */
  readonly problems: readonly string[];
  constructor(message: string, problems?: readonly string[]) {
    super(500, message, { code: 'HUB_CONFIG_ERROR' });
    this.name = 'ConfigError';
    this.problems = problems ?? [message];
  }
}
