/**
 * What the catalog says about a database's tables, owners and privileges: the facts a backup's
 * manifest records and a verification compares. Every schema counts but the system ones
 * (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp_*`: user schemas cannot start with
 * `pg_`), and no session's temporary tables (another session's cannot even be read).
 */
import { createHash } from "node:crypto";
import type pg from "pg";

/** SQL condition: namespace `n` is a user schema. */
export const USER_SCHEMA = `n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`;

export interface TableFact {
  oid: number;
  /** `format('%I.%I', schema, table)`: quoted exactly as PostgreSQL quotes it. */
  name: string;
  /** `partitioned` tables hold no rows of their own (their partitions do). */
  kind: "table" | "partitioned";
  /** UNLOGGED: a physical restore (PITR, a replica promoted after a crash) brings it back empty. */
  unlogged: boolean;
}

interface TableRow {
  oid: number;
  name: string;
  relkind: string;
  relpersistence: string;
}
const toFact = (r: TableRow): TableFact => ({
  oid: Number(r.oid),
  name: r.name,
  kind: r.relkind === "p" ? "partitioned" : "table",
  unlogged: r.relpersistence === "u",
});
const TABLE_COLUMNS = `c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind, c.relpersistence`;

/** The tables with these OIDs (those a dump's TOC lists), ordered by name. */
export async function tablesByOid(client: pg.Client, oids: number[]): Promise<TableFact[]> {
  const { rows } = await client.query<TableRow>(
    `SELECT ${TABLE_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = ANY($1::oid[]) ORDER BY 2`,
    [oids],
  );
  return rows.map(toFact);
}

/** Every table of the database in a user schema, except temporary ones, ordered by name. */
export async function userTables(client: pg.Client): Promise<TableFact[]> {
  const { rows } = await client.query<TableRow>(
    `SELECT ${TABLE_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${USER_SCHEMA} ORDER BY 2`,
  );
  return rows.map(toFact);
}

/**
 * Exact rows of each table, its own rows only (`ONLY`: an inheritance parent without its
 * children, as pg_dump's `COPY` dumps it). `name`s must come from the catalog (format %I).
 */
/** Pure: the exact row count of table `name` (an SQL name): its own rows, or with its descendants. */
export const rowCountQuery = (name: string, only = true) =>
  `SELECT count(*)::bigint AS n FROM ${only ? "ONLY " : ""}${name}`;

export async function exactRowCounts(client: pg.Client, names: string[], only = true): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of names) {
    const { rows } = await client.query<{ n: string }>(rowCountQuery(name, only));
    counts[name] = Number(rows[0]!.n);
  }
  return counts;
}

/** A digest of who owns what, or of who may do what, with figures for a message. */
export interface AccessDigest {
  /** SHA-256 of the sorted entries. */
  sha256: string;
  entries: number;
  /** Ownership: objects per owning role. Privileges: entries per kind of object. */
  by: Record<string, number>;
}

/** SQL condition: the object is not a member of an extension (CREATE EXTENSION makes those). */
const notInExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/**
 * Every object of the user schemas with its owner and its effective ACL: `acl` is the catalog's
 * ACL or, when NULL, PostgreSQL's built-in default for the kind (`acldefault`), so an explicit
 * ACL equal to the default and a NULL one are the same permission, as PostgreSQL treats them.
 * `aclkind` is the `acldefault` letter. Column ACLs are separate rows (kind `column`).
 */
const OBJECTS = `
  SELECT 'schema' AS kind, quote_ident(n.nspname) AS name, n.nspowner AS owner, n.nspacl AS acl, 'n' AS aclkind
    FROM pg_namespace n WHERE ${USER_SCHEMA} AND ${notInExtension("pg_namespace", "n.oid")}
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
           WHEN 'f' THEN 'foreign table' ELSE 'table' END,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relowner, c.relacl,
         CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relpersistence <> 't' AND ${USER_SCHEMA}
      AND ${notInExtension("pg_class", "c.oid")}
  UNION ALL
  SELECT 'column', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname),
         c.relowner, a.attacl, 'c'
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND c.relpersistence <> 't' AND ${USER_SCHEMA}
      AND ${notInExtension("pg_class", "c.oid")}
  UNION ALL
  SELECT 'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         p.proowner, p.proacl, 'f'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA} AND ${notInExtension("pg_proc", "p.oid")}
  UNION ALL
  SELECT 'type', quote_ident(n.nspname) || '.' || quote_ident(t.typname), t.typowner, t.typacl, 'T'
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${USER_SCHEMA} AND t.typtype IN ('d', 'e', 'r', 'm') AND ${notInExtension("pg_type", "t.oid")}
  UNION ALL
  SELECT 'large object', l.oid::text, l.lomowner, l.lomacl, 'L' FROM pg_largeobject_metadata l`;

/**
 * SQL: an ACL as a set, each entry `grantee:privilege[*]/grantor` sorted, with the object's owner
 * written `<owner>` wherever it grants or is granted. So the order of the entries never matters,
 * and a copy restored with `--no-owner` (every object then owned by the restoring user, who is
 * also the grantor of every GRANT it replays) compares equal when the same roles hold the same
 * privileges. Who owns what is the ownership digest's business.
 */
const aclSet = (acl: string, owner: string) => `(
  SELECT coalesce(string_agg(e, ' ' ORDER BY e), '') FROM (
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = ${owner} THEN '<owner>' ELSE quote_ident(pg_get_userbyid(x.grantee)) END
           || ':' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
           || '/' || CASE WHEN x.grantor = ${owner} THEN '<owner>' ELSE quote_ident(pg_get_userbyid(x.grantor)) END AS e
    FROM aclexplode(${acl}) x) entries)`;

/** Who owns each object of the user schemas (and each large object). */
export async function ownershipDigest(client: pg.Client): Promise<AccessDigest> {
  const { rows } = await client.query<{ entry: string; owner: string }>(
    `SELECT kind || ' ' || name || ' owned by ' || pg_get_userbyid(owner) AS entry, pg_get_userbyid(owner) AS owner
     FROM (${OBJECTS}) o WHERE kind <> 'column'`,
  );
  return digest(
    rows.map((r) => r.entry),
    rows.map((r) => r.owner),
  );
}

/**
 * Who may do what: every object's effective ACL as a set (see {@link aclSet}), column ACLs,
 * default privileges and row-security policies. The same permissions give the same digest
 * whatever the order of the entries, an explicit ACL equal to the default or a NULL one, and
 * (owner written `<owner>`) whoever owns the restored copy.
 */
export async function privilegesDigest(client: pg.Client): Promise<AccessDigest> {
  const { rows } = await client.query<{ entry: string; kind: string }>(`
    SELECT entry, kind FROM (
      SELECT kind || ' ' || name || ' ' || ${aclSet('coalesce(acl, acldefault(aclkind::"char", owner))', "owner")} AS entry, kind
        FROM (${OBJECTS}) o) a
      WHERE NOT (kind = 'column' AND entry LIKE '% ')
    UNION ALL
    SELECT 'default privileges for ' || quote_ident(pg_get_userbyid(d.defaclrole))
             || CASE WHEN d.defaclnamespace = 0 THEN '' ELSE ' in ' || quote_ident(n.nspname) END
             || ' on ' || d.defaclobjtype::text || ' ' || ${aclSet("d.defaclacl", "d.defaclrole")}, 'default privileges'
      FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    UNION ALL
    SELECT 'policy ' || quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || p.polcmd::text
             || CASE WHEN p.polpermissive THEN ' permissive' ELSE ' restrictive' END
             || ' to ' || coalesce((SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END, ',' ORDER BY 1)
                                      FROM unnest(p.polroles) r), '')
             || ' using ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
             || ' check ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), 'policy'
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMA}
    UNION ALL
    SELECT 'row security on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
             || CASE WHEN c.relforcerowsecurity THEN ' (forced)' ELSE '' END, 'row security'
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relrowsecurity AND c.relpersistence <> 't' AND ${USER_SCHEMA}`);
  return digest(
    rows.map((r) => r.entry),
    rows.map((r) => r.kind),
  );
}

/** Large objects: how many, and their bytes in all (each read to its end, as a restore must write it). */
export interface LargeObjectFacts {
  count: number;
  bytes: number;
}

/**
 * Counts the large objects and sums their sizes (`lo_lseek64` to the end of each, in the
 * caller's transaction: its snapshot). Reading a large object needs SELECT on it, as pg_dump does.
 */
export async function largeObjectFacts(client: pg.Client): Promise<LargeObjectFacts> {
  const { rows } = await client.query<{ n: string; bytes: string }>(
    `SELECT count(*)::bigint AS n, coalesce(sum(size), 0)::bigint AS bytes FROM (
       SELECT lo_lseek64(fd, 0, 2) AS size FROM (
         SELECT lo_open(oid, x'40000'::int) AS fd FROM pg_largeobject_metadata) opened) sized`,
  );
  return { count: Number(rows[0]!.n), bytes: Number(rows[0]!.bytes) };
}

function digest(entries: string[], keys: string[]): AccessDigest {
  const by: Record<string, number> = {};
  for (const k of keys) by[k] = (by[k] ?? 0) + 1;
  const sorted = [...entries].sort();
  return {
    sha256: createHash("sha256").update(sorted.join("\n")).digest("hex"),
    entries: entries.length,
    by: Object.fromEntries(Object.entries(by).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** Pure: how two digests' figures differ, e.g. "fx_owner 12 → 0, postgres 40 → 52". */
export function digestDifference(want: AccessDigest, got: AccessDigest): string {
  const keys = [...new Set([...Object.keys(want.by), ...Object.keys(got.by)])].sort();
  const changed = keys
    .filter((k) => (want.by[k] ?? 0) !== (got.by[k] ?? 0))
    .map((k) => `${k} ${want.by[k] ?? 0} → ${got.by[k] ?? 0}`);
  return changed.length
    ? changed.join(", ")
    : `the same figures (${got.entries} entries) but different entries: compare pg_dump --schema-only of both`;
}
