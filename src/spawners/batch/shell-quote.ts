/**
 * Quoting one value for a POSIX shell command line, so that a value from
 * outside (a user name, a job id, a partition picked in a form) is always one
 * word and never shell syntax.
 */

/**
 * `value` as one POSIX shell word in single quotes: inside `'…'` the shell
 * gives no character a meaning, and each `'` of the value is written as
 * `'\''` (close the quotes, an escaped quote, open them again). The empty
 * string becomes `''`, so it still counts as one argument.
 *
 * @example shellQuote("carol.proj1") === "'carol.proj1'"
 * @example shellQuote("it's") === "'it'\\''s'"
 * @throws Error when the value holds a NUL character, which no shell argument
 *   or environment value can carry.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new Error('a value for a shell command line holds a NUL character, which a shell cannot pass on');
  }
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
