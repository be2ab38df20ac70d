/**
 * Checks the `user_options` of a batch spawn (pure): only the names the
 * back-end declares, each a short string or a number. Their values go into
 * the batch script (an `#SBATCH` line), so a line break or a control
 * character could add lines of its own, and a space more options on the
 * same line (sbatch reads every word of a directive): refused, except a
 * space in `options` (extra `#SBATCH` options by definition).
 */
import { HubError } from '../../lib/errors.js';
import { quoteName } from '../../lib/quote-name.js';
import { USER_REQ_OPTIONS } from './batch-config.js';

/** The one option whose value may be several words: extra `#SBATCH` options (`req_options`). */
export const MULTI_WORD_OPTION = 'options';

/** Longest value a user option may have. */
export const MAX_OPTION_LENGTH = 1024;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The options as they are when each is a declared name (a `req_*` short
 * name from {@link USER_REQ_OPTIONS} or one of `formFields`) with a sane
 * value; else a HubError(400) naming the option and the back-end.
 *
 * @param backend the back-end's name, for messages.
 */
export function checkBatchOptions(options: Record<string, unknown>, formFields: readonly string[], backend: string): Record<string, unknown> {
  const allowed = new Set<string>([...USER_REQ_OPTIONS, ...formFields]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!allowed.has(key)) {
      throw new HubError(400, `Unknown option ${quoteName(key)} for back-end ${quoteName(backend)} (it takes: ${[...allowed].sort().join(', ')})`);
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new HubError(400, `Option ${quoteName(key)} must be a finite number`);
    } else if (typeof value === 'string') {
      if (value.length > MAX_OPTION_LENGTH) throw new HubError(400, `Option ${quoteName(key)} is longer than ${MAX_OPTION_LENGTH} characters`);
      if (CONTROL.test(value)) throw new HubError(400, `Option ${quoteName(key)} holds a line break or another control character`);
      if (key !== MULTI_WORD_OPTION && /\s/.test(value)) {
        throw new HubError(400, `Option ${quoteName(key)} holds a space: its value goes into the batch script as one word (an #SBATCH line would read the rest as more options)`);
      }
    } else if (value !== null && value !== undefined) {
      throw new HubError(400, `Option ${quoteName(key)} must be a string or a number, not ${Array.isArray(value) ? 'a list' : typeof value}`);
    } else {
      continue;
    }
    out[key] = value;
  }
  return out;
}
