/**
 * The roles a logical backup needs, carried with it, and recreated before a restore so that
 * ownership, GRANTs, default privileges and row-security policies come back as they were.
 *
 * - At backup: `pg_dumpall --roles-only` (with `--no-role-passwords` when the server hides
 *   passwords, as RDS does), kept only for the roles the database needs: those its objects,
 *   privileges, default privileges and policies name (`pg_shdepend`), its owner, the bootstrap
 *   superuser when it owns objects, and every member of those (a login role that only inherits a
 *   group's rights).
 * - At restore: only the roles the target server lacks are created, with their attributes,
 *   comment and settings, and their memberships among those roles. A role the target already
 *   has is left exactly as it is (no password, attribute or membership of an existing role is
 *   ever changed), and no role is created SUPERUSER: it is created NOSUPERUSER and reported.
 */
import { join } from "node:path";
import type pg from "pg";
import type { PgConnection } from "./cluster.ts";
import { libpqEnv, runTool } from "./libpq.ts";

export type RoleStatement =
  | { kind: "create"; role: string; sql: string }
  | { kind: "attributes"; role: string; sql: string }
  | { kind: "comment"; role: string; sql: string }
  | { kind: "config"; role: string; sql: string }
  | { kind: "membership"; role: string; member: string; sql: string };

/**
 * Pure: SQL text split into statements (`;` outside quotes, identifiers and comments); psql
 * meta-commands (`\restrict …`) and comments are dropped.
 */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const ch = text[i]!;
    if (lineStart && ch === "\\") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    lineStart = false;
    if (ch === "-" && text[i + 1] === "-") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) break;
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      cur += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === ";") {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      i++;
      continue;
    }
    if (ch === "\n") lineStart = true;
    cur += ch;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const unquote = (ident: string): string =>
  ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase();

/** Pure: the statements of a `pg_dumpall --roles-only` script that concern roles, classified. */
export function parseRoleScript(text: string): RoleStatement[] {
  const result: RoleStatement[] = [];
  for (const sql of splitStatements(text)) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^CREATE ROLE ${IDENT}$`).exec(sql)))
      result.push({ kind: "create", role: unquote(m[1]!), sql });
    else if ((m = new RegExp(`^ALTER ROLE ${IDENT} WITH `).exec(sql)))
      result.push({ kind: "attributes", role: unquote(m[1]!), sql });
    else if ((m = new RegExp(`^COMMENT ON ROLE ${IDENT} IS `).exec(sql)))
      result.push({ kind: "comment", role: unquote(m[1]!), sql });
    else if ((m = new RegExp(`^ALTER ROLE ${IDENT} (?:SET|RESET) `).exec(sql)))
      result.push({ kind: "config", role: unquote(m[1]!), sql });
    else if ((m = new RegExp(`^GRANT ${IDENT} TO ${IDENT}(?: WITH ADMIN OPTION)?(?: GRANTED BY ${IDENT})?$`).exec(sql)))
      // The grantor is the restoring user's business: GRANTED BY a role it is not fails on PostgreSQL 15.
      result.push({
        kind: "membership",
        role: unquote(m[1]!),
        member: unquote(m[2]!),
        sql: sql.replace(new RegExp(` GRANTED BY ${IDENT}$`), ""),
      });
    // Anything else (SET …, ALTER ROLE … IN DATABASE …, SECURITY LABEL) is not carried.
  }
  return result;
}

/** Pure: the statements for `roles` only (a membership when both its roles are in). */
export function keepRoles(statements: RoleStatement[], roles: ReadonlySet<string>): RoleStatement[] {
  return statements.filter((s) => roles.has(s.role) && (s.kind !== "membership" || roles.has(s.member)));
}

/** Pure: statements back to a script, one per line. */
export const renderRoleScript = (statements: RoleStatement[]): string => statements.map((s) => `${s.sql};\n`).join("");

/**
 * The roles the connected database needs: named by its objects, privileges, default privileges
 * and policies (pg_shdepend), its owner, the `owners` of its objects (pg_shdepend does not
 * record the bootstrap superuser's), and the members of all those, transitively.
 */
export async function neededRoles(client: pg.Client, owners: readonly string[] = []): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(
    `
    WITH RECURSIVE named AS (
      SELECT d.refobjid AS oid FROM pg_shdepend d
        WHERE d.refclassid = 'pg_authid'::regclass AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      UNION SELECT datdba FROM pg_database WHERE datname = current_database()
      UNION SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[])
    ), needed AS (
      SELECT oid FROM named
      UNION SELECT m.member FROM pg_auth_members m JOIN needed n ON m.roleid = n.oid
    )
    SELECT r.rolname FROM needed JOIN pg_roles r ON r.oid = needed.oid ORDER BY 1`,
    [owners],
  );
  return rows.map((r) => r.rolname);
}

/** Whether the connected user can read password hashes (RDS hides pg_authid even from its master user). */
export async function canReadPasswords(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    "SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS ok",
  );
  return rows[0]!.ok;
}

export interface CarriedRoles {
  script: string;
  names: string[];
  passwords: "included" | "omitted";
}

/** `pg_dumpall --roles-only` of the server, kept for `needed`. */
export async function dumpRoles(
  conn: PgConnection,
  binDir: string,
  needed: string[],
  passwords: boolean,
): Promise<CarriedRoles> {
  const args = ["--roles-only", "--no-password", `--database=${conn.database}`];
  if (!passwords) args.push("--no-role-passwords");
  const tool = runTool(join(binDir, "pg_dumpall"), args, libpqEnv(conn));
  const chunks: Buffer[] = [];
  tool.stdout.on("data", (d: Buffer) => chunks.push(d));
  await tool.done;
  const text = Buffer.concat(chunks).toString("utf8");
  const set = new Set(needed);
  const kept = keepRoles(parseRoleScript(text), set);
  return {
    script: renderRoleScript(kept),
    names: [...new Set(kept.filter((s) => s.kind === "create").map((s) => s.role))].sort(),
    passwords: passwords ? "included" : "omitted",
  };
}

export interface RecreatedRoles {
  /** Roles this restore created (none of them SUPERUSER). */
  created: string[];
  /** Roles the target already had: left exactly as they were. */
  existing: string[];
  /** Created roles the backup has as SUPERUSER, created NOSUPERUSER instead. */
  notSuperuser: string[];
  /** Memberships granted (member → role), among created roles. */
  memberships: string[];
}

/**
 * Creates the roles of `script` that the target server lacks (see the module comment).
 * @throws Error naming the role and PostgreSQL's message when one cannot be created.
 */
export async function recreateRoles(client: pg.Client, script: string): Promise<RecreatedRoles> {
  const statements = parseRoleScript(script);
  const names = [...new Set(statements.filter((s) => s.kind === "create").map((s) => s.role))];
  const { rows } = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [
    names,
  ]);
  const existing = new Set(rows.map((r) => r.rolname));
  const toCreate = new Set(names.filter((n) => !existing.has(n)));
  const result: RecreatedRoles = { created: [], existing: [...existing].sort(), notSuperuser: [], memberships: [] };
  for (const s of statements) {
    if (s.kind === "membership") {
      if (!toCreate.has(s.member)) continue;
    } else if (!toCreate.has(s.role)) continue;
    let sql = s.sql;
    if (s.kind === "attributes" && /\bSUPERUSER\b/.test(sql)) {
      sql = sql.replace(/\bSUPERUSER\b/, "NOSUPERUSER");
      result.notSuperuser.push(s.role);
    }
    try {
      await client.query(sql);
    } catch (error) {
      // What was created so far goes with the error: a verification drops it again.
      throw Object.assign(
        new Error(
          `cannot recreate role "${s.role}" before the restore (${s.kind}): ${(error as Error).message}; ` +
            `the restoring user needs CREATEROLE (and the attributes the role has), or create the role by hand`,
          { cause: error },
        ),
        { roles: result },
      );
    }
    if (s.kind === "create") result.created.push(s.role);
    if (s.kind === "membership") result.memberships.push(`${s.member} → ${s.role}`);
  }
  return result;
}

/** Drops roles a verification created (after its scratch database is gone); returns those it could not drop. */
export async function dropRoles(client: pg.Client, roles: string[]): Promise<string[]> {
  const left: string[] = [];
  // Members first is not needed: DROP ROLE removes memberships; objects are gone with the database.
  for (const role of roles) {
    try {
      await client.query(`DROP ROLE IF EXISTS "${role.replace(/"/g, '""')}"`);
    } catch {
      left.push(role);
    }
  }
  return left;
}
