/**
 * Commands the runbooks print for a human to paste (resume, new run, next steps): every value in
 * them is one POSIX `sh` word, so a state directory, an outputs file or a run id holding `$(…)`,
 * a quote, `;` or a space is pasted as itself and never runs anything. (zx's `quote` writes bash's
 * `$'…'`, which dash — `/bin/sh` on Debian — reads as `$` and a quoted string: not for `sh`.)
 */

/**
 * Pure: `value` as one POSIX sh word: as is when it holds only characters sh never interprets,
 * else single-quoted (an embedded `'` becomes `'\''`). A newline or other control character is
 * refused: no one-line command survives it (and it could forge a line of output).
 */
export function shQuote(value: string): string {
  assertNoControl(value);
  if (/^[A-Za-z0-9_./=:@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Pure: a command line: `base` (already a command, e.g. `npx zx runbooks/region-failover.ts`) then each argument quoted. */
export function commandLine(base: string, args: readonly string[]): string {
  return [base, ...args.map(shQuote)].join(" ");
}

/**
 * A path that ends up in a config file, a printed command or a shell string cannot hold a
 * newline or another control character: no quoting survives every reader of it.
 */
export function assertNoControl(value: string, what = "value"): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new Error(
      `invalid ${what} ${JSON.stringify(value)}: expected no newline or other control character (it goes into a config file and a shell command)`,
    );
}
