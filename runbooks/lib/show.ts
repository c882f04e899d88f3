/**
 * A value the user gave, as messages echo it: JSON-quoted, so a newline, a control character or
 * an escape sequence is shown escaped and can never forge a line of output. Long values are cut.
 */
export function shown(value: unknown, max = 200): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  return text.length > max ? `${text.slice(0, max)}…" (${text.length} characters)` : text;
}
