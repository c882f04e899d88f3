/**
 * Command lines that PostgreSQL hands to `sh -c`: `archive_command` and `restore_command`.
 * PostgreSQL substitutes `%p`/`%f` (and `%%` for a literal `%`) and runs the result with the
 * shell, so every value we put in (a config path, a data directory) is quoted for `sh` and has
 * its `%` doubled; a checkout path with a space, a quote or a `;` stays one argument and never
 * runs anything.
 */

/**
 * Pure: `value` as one POSIX sh word: as is when it holds only characters sh never interprets,
 * else single-quoted (an embedded `'` becomes `'\''`).
 */
export function shQuote(value: string): string {
  assertNoControl(value);
  if (/^[A-Za-z0-9_./=:@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The placeholders PostgreSQL substitutes in archive_command / restore_command. */
export type WalPlaceholder = "%p" | "%f" | '"%p"';

/**
 * Pure: an archive_command / restore_command from `words` (each quoted for sh, `%` doubled so
 * PostgreSQL leaves it alone) followed by PostgreSQL's placeholders, unquoted.
 * @throws Error naming the word when it holds a newline or another control character.
 */
export function walCommand(words: readonly string[], placeholders: readonly WalPlaceholder[]): string {
  return [...words.map((w) => shQuote(w).replace(/%/g, "%%")), ...placeholders].join(" ");
}

/**
 * A path that ends up in a config file or a shell string cannot hold a newline or another
 * control character: no quoting survives every reader of it (postgresql.conf, pgbackrest.conf).
 */
export function assertNoControl(value: string, what = "value"): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new Error(
      `invalid ${what} ${JSON.stringify(value)}: expected no newline or other control character (it goes into a config file and a shell command)`,
    );
}
