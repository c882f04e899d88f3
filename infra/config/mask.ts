/**
 * Credentials never appear in a config message: a URL's `user:password@` (or `token@`) becomes
 * `***@`, and a value after a key that names a secret (password, token, secret) becomes `***`.
 * Pure; applied to every problem line (load.ts).
 */
export function maskCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@"]+@/gi, "$1***@")
    .replace(/("?(?:password|passwd|token|secret)"?\s*[:=]\s*)"[^"]*"/gi, '$1"***"');
}
