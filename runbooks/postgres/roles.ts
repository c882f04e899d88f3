/**
 * The roles a logical backup needs, carried with it, and recreated before a restore so that
 * ownership, GRANTs, default privileges and row-security policies come back as they were — by
 * a restoring user that is not a superuser, as RDS's master user is not.
 *
 * - At backup: `pg_dumpall --roles-only --no-role-passwords` (password verifiers only when asked
 *   for: see {@link dumpRoles}), kept for the roles the database needs: those its objects,
 *   privileges, default privileges and policies name (`pg_shdepend`), its owner, the owners of its
 *   objects, and every member of those. The script carries only what a `CREATEROLE`
 *   non-superuser can create: the roles, `LOGIN`, `INHERIT`, `CREATEDB`, `CREATEROLE`,
 *   `CONNECTION LIMIT`, `VALID UNTIL`, comments, per-role settings and memberships. Superuser
 *   attributes (`SUPERUSER`, `REPLICATION`, `BYPASSRLS`) and roles the server reserves (`pg_*`,
 *   `rds*`) are left out, each named with its reason ({@link LeftOut}).
 * - At restore: only the roles the target lacks are created; a role the target already has keeps
 *   its attributes, password and settings. Memberships in the roles this restore created are
 *   granted (also to roles that were there, e.g. the master user owning-role membership the backup
 *   recorded); a statement the server refuses (a superuser-only setting) is left out and reported,
 *   never fatal but for `CREATE ROLE` itself.
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

/** A part of a role the roles script does not carry (or a restore could not apply), and why. */
export interface LeftOut {
  role: string;
  /** e.g. `SUPERUSER`, `PASSWORD`, `membership in rds_superuser`, `setting log_statement`. */
  item: string;
  reason: string;
}

/** Roles the server reserves (PostgreSQL's predefined `pg_*`, RDS's `rdsadmin` and `rds_*`): never carried. */
export const isReservedRole = (role: string): boolean => /^(pg_|rds)/.test(role);

const SUPERUSER_ONLY = ["SUPERUSER", "REPLICATION", "BYPASSRLS"] as const;
const CARRIED_ATTRIBUTE = /^(NO)?(INHERIT|LOGIN|CREATEDB|CREATEROLE)$/;

/**
 * Pure: an `ALTER ROLE … WITH …` statement reduced to what a `CREATEROLE` non-superuser may
 * set, and what it dropped. `NOSUPERUSER`, `NOREPLICATION` and `NOBYPASSRLS` are dropped silently:
 * they are what `CREATE ROLE` gives anyway. The password verifier is kept only with `passwords`.
 */
export function carriedAttributes(
  role: string,
  sql: string,
  passwords: boolean,
): { sql: string | null; leftOut: LeftOut[] } {
  const m = /^(ALTER ROLE \S+|ALTER ROLE "(?:[^"]|"")+") WITH (.*)$/s.exec(sql);
  if (!m) return { sql: null, leftOut: [{ role, item: "attributes", reason: "not an ALTER ROLE … WITH statement" }] };
  const tokens = m[2]!.match(/'(?:[^']|'')*'|\S+/g) ?? [];
  const kept: string[] = [];
  const leftOut: LeftOut[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if ((SUPERUSER_ONLY as readonly string[]).includes(t))
      leftOut.push({ role, item: t, reason: "only a superuser can give it (RDS's master user is not one)" });
    else if (SUPERUSER_ONLY.some((a) => t === `NO${a}`)) continue;
    else if (CARRIED_ATTRIBUTE.test(t)) kept.push(t);
    else if (t === "CONNECTION" && tokens[i + 1] === "LIMIT") kept.push(t, tokens[++i]!, tokens[++i]!);
    else if (t === "VALID" && tokens[i + 1] === "UNTIL") kept.push(t, tokens[++i]!, tokens[++i]!);
    else if (t === "PASSWORD") {
      const value = tokens[++i]!;
      if (passwords) kept.push(t, value);
      else if (value !== "NULL")
        leftOut.push({
          role,
          item: "PASSWORD",
          reason: "password verifiers are not carried (backup-database --carry-password-verifiers carries them)",
        });
    } else leftOut.push({ role, item: t, reason: "not an attribute a CREATEROLE non-superuser sets" });
  }
  return { sql: kept.length ? `${m[1]} WITH ${kept.join(" ")}` : null, leftOut };
}

/**
 * Pure: the statements a `CREATEROLE` non-superuser can replay, and what was left out: reserved
 * roles and memberships in them, superuser attributes, and password verifiers unless `passwords`.
 */
export function carriedStatements(
  statements: RoleStatement[],
  passwords: boolean,
): { statements: RoleStatement[]; leftOut: LeftOut[] } {
  const kept: RoleStatement[] = [];
  const leftOut: LeftOut[] = [];
  for (const s of statements) {
    if (isReservedRole(s.kind === "membership" ? s.member : s.role)) {
      if (s.kind === "create")
        leftOut.push({ role: s.role, item: "role", reason: "reserved by the server: it has its own" });
      continue;
    }
    // A predefined pg_* role is granted like any other (a restore that may not is told so);
    // the service's own rds* roles are the service's business.
    if (s.kind === "membership" && /^rds/.test(s.role)) {
      leftOut.push({
        role: s.member,
        item: `membership in ${s.role}`,
        reason: "a role the service reserves: grant it by hand where the service allows",
      });
      continue;
    }
    if (s.kind === "attributes") {
      const a = carriedAttributes(s.role, s.sql, passwords);
      leftOut.push(...a.leftOut);
      if (a.sql) kept.push({ ...s, sql: a.sql });
      continue;
    }
    kept.push(s);
  }
  return { statements: kept, leftOut };
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
  /** `included` only when asked for (and the server lets the backup user read them). */
  passwords: "included" | "omitted";
  leftOut: LeftOut[];
}

/**
 * `pg_dumpall --roles-only` of the server, kept for `needed` and reduced to what a `CREATEROLE`
 * non-superuser can replay. Password verifiers (SCRAM hashes: not the passwords, but crackable
 * offline) are carried only when `passwords` is true.
 * @throws Error when `passwords` is asked for and the backup user cannot read them (RDS hides them).
 */
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
  const carried = carriedStatements(keepRoles(parseRoleScript(text), new Set(needed)), passwords);
  const header = passwords
    ? "-- Roles the database needs. Carries password verifiers (SCRAM hashes), as asked for.\n"
    : "-- Roles the database needs. No password verifiers: set passwords before anyone logs in.\n";
  return {
    script: header + renderRoleScript(carried.statements),
    names: [...new Set(carried.statements.filter((s) => s.kind === "create").map((s) => s.role))].sort(),
    passwords: passwords ? "included" : "omitted",
    leftOut: [
      ...(passwords
        ? []
        : [
            {
              role: "-",
              item: "password verifiers",
              reason: "not carried by default (backup-database --carry-password-verifiers carries them)",
            },
          ]),
      ...carried.leftOut,
    ],
  };
}

export interface RecreatedRoles {
  /** Roles this restore created (none of them SUPERUSER). */
  created: string[];
  /** Roles the target already had: their attributes, passwords and settings left as they were. */
  existing: string[];
  /** Kept for older reports: roles the backup had as SUPERUSER, created without it (see `leftOut`). */
  notSuperuser: string[];
  /** Memberships granted (member → role): in roles this restore created. */
  memberships: string[];
  /** What the script held that this restore did not apply, and why. */
  leftOut: LeftOut[];
}

/**
 * Creates the roles of `script` that the target server lacks (see the module comment), as a
 * `CREATEROLE` non-superuser can. Older scripts (superuser attributes, verifiers) are reduced
 * the same way first.
 * @throws Error naming the role and PostgreSQL's message when a role cannot be created, with
 * what was created so far (`roles`) so that the caller can drop it again.
 */
export async function recreateRoles(client: pg.Client, script: string): Promise<RecreatedRoles> {
  const all = parseRoleScript(script);
  const passwords = all.some((s) => s.kind === "attributes" && /\bPASSWORD '/.test(s.sql));
  const { statements, leftOut } = carriedStatements(all, passwords);
  const names = [...new Set(statements.filter((s) => s.kind === "create").map((s) => s.role))];
  const { rows } = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [
    names,
  ]);
  const existing = new Set(rows.map((r) => r.rolname));
  const toCreate = new Set(names.filter((n) => !existing.has(n)));
  const result: RecreatedRoles = {
    created: [],
    existing: [...existing].sort(),
    notSuperuser: [...new Set(leftOut.filter((l) => l.item === "SUPERUSER").map((l) => l.role))].filter((r) =>
      toCreate.has(r),
    ),
    memberships: [],
    leftOut: leftOut.filter((l) => toCreate.has(l.role) || l.item.startsWith("membership")),
  };
  for (const s of statements) {
    // A membership in a role this restore creates is new; an existing role's own are untouched.
    if (s.kind === "membership" ? !toCreate.has(s.role) && !toCreate.has(s.member) : !toCreate.has(s.role)) continue;
    try {
      await client.query(s.sql);
    } catch (error) {
      if (s.kind !== "create") {
        const item = s.kind === "membership" ? `membership in ${s.role}` : s.kind;
        result.leftOut.push({
          role: s.kind === "membership" ? s.member : s.role,
          item,
          reason: (error as Error).message,
        });
        continue;
      }
      // What was created so far goes with the error: the caller drops it again.
      throw Object.assign(
        new Error(
          `cannot recreate role "${s.role}" before the restore: ${(error as Error).message}; ` +
            "the restoring user needs CREATEROLE (RDS's master user has it), or create the role by hand, or restore with --no-owner --no-privileges (no roles needed)",
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

/**
 * Makes the connected (non-superuser) user a member of each of `owners` it is not yet a member
 * of, so that it may give objects to them (`ALTER … OWNER TO` needs it, as `ALTER DEFAULT
 * PRIVILEGES FOR ROLE` does); a superuser needs none. Returns the memberships granted, for
 * {@link revokeMemberships} after the restore, and the owners it could not become (a superuser
 * role: nobody but a superuser may give objects to one).
 */
export async function borrowOwners(
  client: pg.Client,
  owners: readonly string[],
): Promise<{ granted: string[]; refused: LeftOut[] }> {
  const {
    rows: [me],
  } = await client.query<{ user: string; superuser: boolean }>(
    "SELECT current_user AS user, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
  );
  const granted: string[] = [];
  const refused: LeftOut[] = [];
  if (me!.superuser) return { granted, refused };
  const { rows } = await client.query<{ rolname: string; member: boolean; superuser: boolean }>(
    "SELECT rolname, pg_has_role(current_user, oid, 'MEMBER') AS member, rolsuper AS superuser FROM pg_roles WHERE rolname = ANY($1)",
    [owners],
  );
  for (const r of rows) {
    if (r.member) continue;
    const role = `"${r.rolname.replace(/"/g, '""')}"`;
    try {
      if (r.superuser) throw new Error(`role "${r.rolname}" is a superuser`);
      await client.query(`GRANT ${role} TO CURRENT_USER`);
      granted.push(r.rolname);
    } catch (error) {
      refused.push({
        role: r.rolname,
        item: "ownership",
        reason: `the restoring user ${me!.user} cannot give objects to it (${(error as Error).message}): they stay the restoring user's`,
      });
    }
  }
  return { granted, refused };
}

/** Takes back the memberships {@link borrowOwners} granted; returns those it could not. */
export async function revokeMemberships(client: pg.Client, roles: readonly string[]): Promise<string[]> {
  const left: string[] = [];
  for (const r of roles)
    await client.query(`REVOKE "${r.replace(/"/g, '""')}" FROM CURRENT_USER`).catch(() => left.push(r));
  return left;
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
