import { HubError } from '../lib/errors.js';

/**
 * A login refusal the user sees: `status` (400, 401, 403, 429…) and a message
 * naming what is wrong (a missing header, an expired token, a group the user
 * is not in). The hub renders it as a page (or JSON for the API), never as a
 * 500, and stores nothing for the refused login. `logMessage` goes to the
 * operator's log only.
 */
export class AuthError extends HubError {
  constructor(status: number, message: string, logMessage?: string) {
    super(status, message, logMessage === undefined ? {} : { logMessage });
    this.name = 'AuthError';
  }
}
