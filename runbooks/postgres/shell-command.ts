/**
 * Command lines that PostgreSQL hands to `sh -c`: `archive_command` and `restore_command`.
 * PostgreSQL substitutes `%p`/`%f` (and `%%` for a literal `%`) and runs the result with the
 * shell, so every value we put in (a config path, a data directory) is quoted for `sh` and has
 * its `%` doubled; a checkout path with a space, a quote or a `;` stays one argument and never
 * runs anything.
 */
import { assertNoControl, shQuote } from "../lib/shell.ts";

// One quoting for sh in the project (runbooks/lib/shell.ts): the printed commands use it too.
export { assertNoControl, shQuote };

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
