/**
 * SQL names as PostgreSQL writes them: `format('%I.%I', schema, table)` quotes an identifier
 * only when it must (upper case, spaces, quotes, keywords), so `public.accounts` and
 * `public."MixedCase"` and `"Audit"."Event Log"` are each one exact string. Manifests, checks
 * and reports all use that form; comparing it with raw catalog names is what made every
 * quoted table "missing".
 */

/** Pure: `"name"` with embedded quotes doubled (always quoted: safe for any input). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Pure: `schema.table` with each part quoted (always quoted: safe for any input). */
export const qualified = (schema: string, table: string): string => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/**
 * Pure: the parts of a (possibly) qualified name in PostgreSQL's quoting: `a.b`, `"A b"."c"`,
 * `tickets`. Returns null when the text is not one or two identifiers separated by a dot.
 */
export function splitQualified(name: string): string[] | null {
  const parts: string[] = [];
  let i = 0;
  while (i < name.length) {
    if (name[i] === '"') {
      let part = "";
      i++;
      for (;;) {
        if (i >= name.length) return null;
        if (name[i] === '"') {
          if (name[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += name[i++];
      }
      parts.push(part);
    } else {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(name.slice(i));
      if (!m) return null;
      parts.push(m[0]);
      i += m[0].length;
    }
    if (i === name.length) break;
    if (name[i] !== ".") return null;
    i++;
    if (i === name.length) return null;
  }
  return parts.length >= 1 && parts.length <= 2 ? parts : null;
}

/**
 * Pure: a table name as a manifest of format v1 recorded it (tables in `public` without their
 * schema) in today's schema-qualified form.
 */
export function qualifyLegacy(name: string): string {
  const parts = splitQualified(name);
  return parts && parts.length === 1 ? `public.${name}` : name;
}
