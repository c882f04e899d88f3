/**
 * Integrity checks of a database (a restored copy, or a live one such as a cluster a
 * point-in-time restore just recovered), and their report. They hold on any database, not only
 * EventChain's:
 *
 * - what to expect comes from the backup's manifest: every table pg_dump dumped, by its
 *   schema-qualified name in PostgreSQL's own quoting, with its exact row count;
 * - every foreign key the catalog declares is checked exactly once, in every schema but the
 *   system ones: a table with inheritance children is read with `ONLY` (a foreign key is not
 *   inherited, so a child's rows are not the parent's to check), the constraints PostgreSQL
 *   derives on each partition (`conparentid` set) are skipped, and a partitioned table is
 *   checked through its parent, as PostgreSQL itself enforces them;
 * - an application profile's checks (EventChain's three, as configuration) run where present;
 * - ownership and privileges match the manifest's digests when the restore kept them;
 * - UNLOGGED tables are listed: a physical restore brings them back empty.
 *
 * Orphan checks are anti-joins (`NOT EXISTS`), never `NOT IN (subquery)`: `NOT IN` returns no
 * row at all once the subquery yields a NULL, and cannot use an anti-join plan at scale. A child
 * row with a NULL in its key is not an orphan under MATCH SIMPLE; under MATCH FULL a key that is
 * partly NULL is one. Exactly as PostgreSQL enforces it.
 */
import type pg from "pg";
import {
  digestDifference,
  largeObjectFacts,
  ownershipDigest,
  privilegesDigest,
  rowCountQuery,
  USER_SCHEMA,
  userTables,
  type AccessDigest,
  type TableFact,
} from "./catalog.ts";
import { quoteIdent } from "./names.ts";
import { EVENTCHAIN_PROFILE, type ProfileUse } from "./profiles.ts";
import { QueryPool } from "./query-pool.ts";
import type { LeftOut, RecreatedRoles } from "./roles.ts";

export { quoteIdent } from "./names.ts";

export const CHECK_KINDS = [
  "table",
  "row-count",
  "foreign-key",
  "plan-check",
  "ownership",
  "privileges",
  "large-objects",
  "roles",
  "restore",
  "object",
] as const;

export interface Check {
  name: string;
  kind: (typeof CHECK_KINDS)[number];
  ok: boolean;
  detail: string;
}

export interface ForeignKey {
  name: string;
  /** SQL name of the referencing table (quoted). */
  child: string;
  /** SQL name of the referenced table (quoted). */
  parent: string;
  childColumns: string[];
  parentColumns: string[];
  /** Read the referencing table with ONLY (an ordinary table: its inheritance children are not its rows). */
  childOnly?: boolean;
  /** Look up the referenced key with ONLY (PostgreSQL does for an ordinary table, not a partitioned one). */
  parentOnly?: boolean;
  /** MATCH FULL: a key that is partly NULL is a violation. */
  matchFull?: boolean;
  /** False for a NOT VALID constraint: PostgreSQL has not checked its existing rows. */
  validated?: boolean;
}

/** The plan's three explicit checks (test-backup-integrity.sh), unqualified, for the bench's like-for-like figures. */
export const PLAN_CHECKS: ForeignKey[] = EVENTCHAIN_PROFILE.checks.map((c) => ({
  name: c.name,
  child: c.child.table,
  parent: c.parent.table,
  childColumns: c.childColumns,
  parentColumns: c.parentColumns,
}));

/** Pure: the anti-join counting orphans of `fk` (identifiers already quoted/safe). */
export function orphanQuery(fk: ForeignKey): string {
  const cols = fk.childColumns.map((c) => `c.${c}`);
  const match = fk.childColumns.map((c, i) => `p.${fk.parentColumns[i]} = c.${c}`).join(" AND ");
  const missing = `${cols.map((c) => `${c} IS NOT NULL`).join(" AND ")} AND NOT EXISTS (SELECT 1 FROM ${fk.parentOnly ? "ONLY " : ""}${fk.parent} p WHERE ${match})`;
  const partlyNull =
    fk.matchFull && cols.length > 1 ? ` OR num_nulls(${cols.join(", ")}) BETWEEN 1 AND ${cols.length - 1}` : "";
  return `SELECT count(*)::bigint AS orphans FROM ${fk.childOnly ? "ONLY " : ""}${fk.child} c WHERE (${missing})${partlyNull}`;
}

/**
 * Every foreign key declared in the user schemas, once: not the copies PostgreSQL derives on
 * partitions (`conparentid <> 0`), not on temporary tables. Identifiers quoted with `%I`.
 */
export async function declaredForeignKeys(client: pg.Client): Promise<ForeignKey[]> {
  const { rows } = await client.query<{
    name: string;
    child: string;
    parent: string;
    child_cols: string[];
    parent_cols: string[];
    child_kind: string;
    parent_kind: string;
    match: string;
    validated: boolean;
  }>(`
    SELECT con.conname AS name,
           format('%I.%I', n.nspname, cl.relname) AS child, format('%I.%I', pn.nspname, pl.relname) AS parent,
           array_agg(format('%I', ca.attname) ORDER BY k.i) AS child_cols, array_agg(format('%I', pa.attname) ORDER BY k.i) AS parent_cols,
           cl.relkind AS child_kind, pl.relkind AS parent_kind, con.confmatchtype AS match, con.convalidated AS validated
    FROM pg_constraint con
    JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
    JOIN pg_class pl ON pl.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pl.relnamespace
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(ck, pk, i)
    JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
    JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
    WHERE con.contype = 'f' AND con.conparentid = 0 AND cl.relpersistence <> 't' AND ${USER_SCHEMA}
    GROUP BY con.oid, con.conname, n.nspname, cl.relname, pn.nspname, pl.relname, cl.relkind, pl.relkind
    ORDER BY 2, 1`);
  return rows.map((r) => ({
    name: r.name,
    child: r.child,
    parent: r.parent,
    childColumns: r.child_cols,
    parentColumns: r.parent_cols,
    childOnly: r.child_kind !== "p",
    parentOnly: r.parent_kind !== "p",
    matchFull: r.match === "f",
    validated: r.validated,
  }));
}

/** A foreign key as a manifest records it (the ONLY flags follow the checked database's tables). */
export type DeclaredForeignKey = Omit<ForeignKey, "childOnly" | "parentOnly">;

/** What the checked database should hold: from a backup's manifest, and an application profile. */
export interface Expectations {
  /** Every foreign key the backed-up database declared: checked even when the restore could not create it. */
  foreignKeys?: readonly DeclaredForeignKey[];
  /** Every table the backup dumped (schema-qualified, PostgreSQL's quoting). */
  tables?: readonly string[];
  /** Of those, the partitioned ones (no rows of their own). */
  partitionedTables?: readonly string[];
  /** Exact rows per table, as in the backup. */
  rowCounts?: Record<string, number>;
  /** Count each table's own rows (`ONLY`, format v2) or with its inheritance children (v1). Default true. */
  countOnly?: boolean;
  /** Who owned what at backup time; compared when the restore kept ownership. */
  ownership?: AccessDigest;
  /** Who could do what at backup time; compared when the restore kept privileges. */
  privileges?: AccessDigest;
  /** How many large objects, and their bytes in all, at backup time. */
  largeObjects?: { count: number; bytes: number };
  /** Application checks. Default: EventChain's, where present. */
  profile?: ProfileUse;
}

/** How the checks' queries run: one at a time on the caller's connection (the default), or side by side. */
export interface CheckConcurrency {
  /** Opens another connection to the same database, so that checks run side by side. */
  connect?: () => Promise<pg.Client>;
  /** How many checks run at once (default 1; more need `connect`). Each may also use parallel query. */
  concurrency?: number;
}

export interface IntegrityResult {
  checks: Check[];
  /** UNLOGGED tables of the checked database: a physical restore brings them back empty. */
  unloggedTables: string[];
  profile: { name: string | null; mode: ProfileUse["mode"]; applied: string[]; notApplicable: string[] };
}

export const UNLOGGED_NOTE =
  "UNLOGGED tables are not WAL-logged: a physical restore (point-in-time restore, a promoted replica, crash recovery) brings them back empty. A logical backup carries their rows.";

const orphanDetail = (n: number, fk: Pick<ForeignKey, "validated">) =>
  n === 0
    ? "no orphans"
    : fk.validated === false
      ? `${n} orphan row(s), allowed: the constraint is NOT VALID (PostgreSQL never checked the existing rows)`
      : `${n} orphan row(s)`;

/** Columns of every user table, `format('%I')`-quoted, by table OID. */
async function tableColumns(client: pg.Client): Promise<Map<number, Set<string>>> {
  const { rows } = await client.query<{ oid: number; cols: string[] }>(
    `SELECT c.oid, array_agg(format('%I', a.attname)) AS cols FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${USER_SCHEMA} GROUP BY c.oid`,
  );
  return new Map(rows.map((r) => [Number(r.oid), new Set(r.cols)]));
}

/** Exact row counts of `names`, every query started at once (the pool runs as many as it may). */
/** As {@link countRows}, with a table that cannot be read (a forced policy, no privilege) reported, not thrown. */
async function countEach(pool: QueryPool, names: string[], only = true): Promise<Record<string, number | Error>> {
  const counts = await Promise.all(names.map((n) => pool.number(rowCountQuery(n, only)).catch((e: Error) => e)));
  return Object.fromEntries(names.map((n, i) => [n, counts[i]!]));
}

async function countRows(pool: QueryPool, names: string[], only = true): Promise<Record<string, number>> {
  const counts = await Promise.all(names.map((n) => pool.number(rowCountQuery(n, only))));
  return Object.fromEntries(names.map((n, i) => [n, counts[i]!]));
}

/**
 * Runs every check on the connected database. Never throws for a failed check: it reports it.
 * With `run.connect`, the counting queries run `run.concurrency` at a time; the verdicts and their
 * order are the same as one at a time.
 */
export async function checkDatabase(
  client: pg.Client,
  e: Expectations = {},
  run: CheckConcurrency = {},
): Promise<IntegrityResult> {
  // Row security off: a policy must never hide rows from a check (an error instead, as in pg_dump).
  const prepare = ["SET row_security = off"];
  for (const statement of prepare) await client.query(statement);
  const pool = new QueryPool(client, {
    ...(run.connect ? { connect: run.connect } : {}),
    width: run.concurrency ?? 1,
    prepare,
  });
  try {
    return await runChecks(client, pool, e);
  } finally {
    await pool.close();
  }
}

async function runChecks(client: pg.Client, pool: QueryPool, e: Expectations): Promise<IntegrityResult> {
  // Checks whose query is still running are promises, kept in their place: the report's order
  // does not depend on which query finished first.
  const checks: (Check | Promise<Check>)[] = [];
  const orphans = (fk: ForeignKey) => pool.number(orphanQuery(fk));
  // A check whose query fails (a table a forced policy or a missing privilege keeps from the
  // checking user) is reported as failed with PostgreSQL's message, never thrown.
  const orFailed = (name: string, kind: Check["kind"]) => (error: Error) =>
    ({ name, kind, ok: false, detail: `cannot be checked: ${error.message}` }) as Check;
  const present = new Map<string, TableFact>((await userTables(client)).map((t) => [t.name, t]));
  const unlogged = [...present.values()].filter((t) => t.unlogged).map((t) => t.name);
  const isUnlogged = new Set(unlogged);

  // Tables and row counts, as the manifest says (one check per table); without a manifest, every
  // table is read once (its rows counted), which proves each is there and readable.
  if (e.tables === undefined && e.rowCounts === undefined) {
    const own = await countEach(
      pool,
      [...present.values()].filter((t) => t.kind === "table").map((t) => t.name),
    );
    for (const t of present.values()) {
      const n = own[t.name];
      checks.push({
        name: `table ${t.name}`,
        kind: "table",
        ok: !(n instanceof Error),
        detail:
          t.kind === "partitioned"
            ? "present (partitioned: its rows are in its partitions)"
            : n instanceof Error
              ? `cannot be read: ${n.message}`
              : `${n} rows, readable${t.unlogged && n === 0 ? " (UNLOGGED: empty after a physical restore)" : ""}`,
      });
    }
  }
  const rowCounts = e.rowCounts ?? {};
  const counted = Object.keys(rowCounts).filter((n) => present.has(n));
  const got = await countEach(pool, counted, e.countOnly ?? true);
  const partitioned = new Set(e.partitionedTables ?? []);
  for (const name of [...new Set([...(e.tables ?? []), ...Object.keys(rowCounts)])].sort()) {
    const want = rowCounts[name];
    if (!present.has(name)) {
      checks.push({
        name: `table ${name}`,
        kind: want === undefined ? "table" : "row-count",
        ok: false,
        detail: want === undefined ? "missing" : `missing, manifest has ${want} rows`,
      });
    } else if (want === undefined) {
      checks.push({
        name: `table ${name}`,
        kind: "table",
        ok: true,
        detail: partitioned.has(name) ? "present (partitioned: its rows are in its partitions)" : "present",
      });
    } else {
      const n = got[name]!;
      checks.push({
        name: `table ${name}`,
        kind: "row-count",
        ok: n === want,
        detail:
          n instanceof Error
            ? `cannot be counted: ${n.message}; manifest has ${want} rows`
            : n === want
              ? `${n} rows, as in the manifest`
              : `${n} rows, manifest has ${want}${isUnlogged.has(name) && n === 0 ? " (UNLOGGED: empty after a physical restore)" : ""}`,
      });
    }
  }

  // Every declared foreign key, once: the checked database's, and the backup's that it lacks
  // (a restore that could not create a constraint because rows violate it).
  const declared = await declaredForeignKeys(client);
  const fkKey = (fk: { name: string; child: string }) => `${fk.child}\u0000${fk.name}`;
  const have = new Set(declared.map(fkKey));
  const lacking = (e.foreignKeys ?? []).filter((fk) => !have.has(fkKey(fk)));
  const columnsOf = await tableColumns(client);
  const byKey = (a: DeclaredForeignKey, b: DeclaredForeignKey) =>
    fkKey(a) < fkKey(b) ? -1 : fkKey(a) > fkKey(b) ? 1 : 0;
  for (const fk of [...declared, ...lacking].sort(byKey)) {
    const name = `${fk.name} (${fk.child} → ${fk.parent})`;
    const restoredWithout = !have.has(fkKey(fk));
    if (restoredWithout) {
      // The manifest's names are used only once the checked catalog has them (never run as given).
      const child = present.get(fk.child);
      const parent = present.get(fk.parent);
      const known = (t: TableFact | undefined, cols: string[]) => t && cols.every((c) => columnsOf.get(t.oid)?.has(c));
      if (!known(child, fk.childColumns) || !known(parent, fk.parentColumns)) {
        checks.push({ name, kind: "foreign-key", ok: false, detail: "missing, and so are its tables or columns" });
        continue;
      }
      checks.push(
        orphans({
          ...fk,
          childOnly: child!.kind !== "partitioned",
          parentOnly: parent!.kind !== "partitioned",
        }).then(
          (n) => ({
            name,
            kind: "foreign-key",
            ok: false,
            detail: `${n === 0 ? "no orphans" : `${n} orphan row(s)`}; the constraint is missing here (declared in the backup: a restore could not create it)`,
          }),
          orFailed(name, "foreign-key"),
        ),
      );
      continue;
    }
    checks.push(
      orphans(fk as ForeignKey).then(
        (n) => ({
          name,
          kind: "foreign-key",
          ok: n === 0 || fk.validated === false,
          detail: orphanDetail(n, fk),
        }),
        orFailed(name, "foreign-key"),
      ),
    );
  }

  // The application profile, as configured.
  const use = e.profile ?? { mode: "auto", profile: EVENTCHAIN_PROFILE };
  const profile: IntegrityResult["profile"] = {
    name: use.mode === "none" ? null : use.profile.name,
    mode: use.mode,
    applied: [],
    notApplicable: [],
  };
  if (use.mode !== "none") {
    const refs = [...use.profile.tables, ...use.profile.checks.flatMap((c) => [c.child, c.parent])];
    const { rows } = await client.query<{ name: string }>(
      "SELECT format('%I.%I', s, t) AS name FROM unnest($1::text[], $2::text[]) AS x(s, t)",
      [refs.map((r) => r.schema), refs.map((r) => r.table)],
    );
    const nameOf = new Map(refs.map((r, i) => [`${r.schema}\u0000${r.table}`, rows[i]!.name]));
    const sqlName = (r: { schema: string; table: string }) => nameOf.get(`${r.schema}\u0000${r.table}`)!;
    if (use.mode === "required") {
      const required = use.profile.tables.map(sqlName);
      // With its descendants: a required partitioned table holds its partitions' rows.
      const have = await countRows(
        pool,
        required.filter((n) => present.has(n)),
        false,
      );
      for (const name of required) {
        const n = have[name];
        checks.push({
          name: `table ${name} (${use.profile.name})`,
          kind: "table",
          ok: n !== undefined && n > 0,
          detail: n === undefined ? "missing" : n > 0 ? `${n} rows` : "empty",
        });
      }
    }
    for (const c of use.profile.checks) {
      const child = present.get(sqlName(c.child));
      const parent = present.get(sqlName(c.parent));
      if (!child || !parent) {
        const missing = !child ? sqlName(c.child) : sqlName(c.parent);
        if (use.mode === "auto") {
          profile.notApplicable.push(`${c.name} (no ${missing})`);
          continue;
        }
        checks.push({ name: c.name, kind: "plan-check", ok: false, detail: `cannot check: ${missing} is missing` });
        continue;
      }
      profile.applied.push(c.name);
      checks.push(
        orphans({
          name: c.name,
          child: child.name,
          parent: parent.name,
          childColumns: c.childColumns.map(quoteIdent),
          parentColumns: c.parentColumns.map(quoteIdent),
          childOnly: child.kind !== "partitioned",
          parentOnly: parent.kind !== "partitioned",
        }).then(
          (n) => ({ name: c.name, kind: "plan-check", ok: n === 0, detail: orphanDetail(n, {}) }),
          orFailed(c.name, "plan-check"),
        ),
      );
    }
  }

  // Who owns what, who may do what.
  for (const [kind, want, read] of [
    ["ownership", e.ownership, ownershipDigest],
    ["privileges", e.privileges, privilegesDigest],
  ] as const) {
    if (!want) continue;
    const have = await read(client);
    checks.push({
      name: kind === "ownership" ? "owners of every object" : "GRANTs, REVOKEs, default privileges and policies",
      kind,
      ok: have.sha256 === want.sha256,
      detail:
        have.sha256 === want.sha256
          ? `${have.entries} entries, as in the manifest`
          : `differ from the manifest: ${digestDifference(want, have)}`,
    });
  }
  if (e.largeObjects) {
    const want = e.largeObjects;
    const have = await largeObjectFacts(client).catch((error: Error) => error);
    const same = !(have instanceof Error) && have.count === want.count && have.bytes === want.bytes;
    checks.push({
      name: "large objects",
      kind: "large-objects",
      ok: same,
      detail:
        have instanceof Error
          ? `cannot read them: ${have.message}`
          : same
            ? `${have.count} large object(s), ${have.bytes} bytes, as in the manifest`
            : `${have.count} large object(s), ${have.bytes} bytes; the manifest has ${want.count}, ${want.bytes} bytes`,
    });
  }
  return { checks: await Promise.all(checks), unloggedTables: unlogged, profile };
}

/** The checks only (the bench and older callers). */
export async function checkIntegrity(
  client: pg.Client,
  e: Expectations = {},
  run: CheckConcurrency = {},
): Promise<Check[]> {
  return (await checkDatabase(client, e, run)).checks;
}

export interface VerificationReport {
  reportVersion: 2;
  backupId: string | null;
  database: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  checks: Check[];
  unloggedTables: string[];
  profile: IntegrityResult["profile"];
  /** What the restore kept (a scratch restore only). */
  restore?: {
    ownership: boolean;
    privileges: boolean;
    roles: RecreatedRoles | null;
    rolesPasswords: string | null;
    /** What the backup holds that the restore did not apply, and why. */
    leftOut: LeftOut[];
  };
  notes: string[];
}

export function buildVerificationReport(
  input: Omit<VerificationReport, "reportVersion" | "ok" | "notes"> & { notes?: string[] },
): VerificationReport {
  const notes = [...(input.notes ?? [])];
  if (input.unloggedTables.length) notes.push(UNLOGGED_NOTE);
  return {
    reportVersion: 2,
    ...input,
    notes,
    ok: input.checks.length > 0 && input.checks.every((c) => c.ok),
  };
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Pure: the report as Markdown (a verdict line, one table row per check, then what to know). */
export function renderVerificationMarkdown(r: VerificationReport): string {
  const failed = r.checks.filter((c) => !c.ok);
  const lines = [
    `# Backup verification: ${r.ok ? "PASSED" : "FAILED"}`,
    "",
    `- Backup: ${r.backupId ?? "(live database)"}`,
    `- Database checked: ${r.database}`,
    `- Started ${r.startedAt}, finished ${r.finishedAt}`,
    `- ${r.checks.length - failed.length} of ${r.checks.length} checks passed`,
    `- Profile: ${r.profile.name ? `${r.profile.name} (${r.profile.mode}): ${r.profile.applied.length} check(s) applied${r.profile.notApplicable.length ? `, not applicable: ${r.profile.notApplicable.join("; ")}` : ""}` : "none"}`,
  ];
  if (r.restore) {
    lines.push(
      `- Restore kept ownership: ${r.restore.ownership ? "yes" : "no (--no-owner)"}; privileges: ${r.restore.privileges ? "yes" : "no (--no-privileges: GRANTs, REVOKEs and default privileges are lost)"}`,
    );
    if (r.restore.roles)
      lines.push(
        `- Roles: created ${r.restore.roles.created.join(", ") || "none"}; already there (left unchanged) ${r.restore.roles.existing.join(", ") || "none"}${r.restore.roles.notSuperuser.length ? `; created without SUPERUSER: ${r.restore.roles.notSuperuser.join(", ")}` : ""}; password verifiers ${r.restore.rolesPasswords ?? "n/a"}`,
      );
    else lines.push("- Roles: none recreated");
    if (r.restore.leftOut.length)
      lines.push(
        `- Left out by the restore: ${r.restore.leftOut.map((l) => `${l.item}${l.role === "-" ? "" : ` of ${l.role}`} (${l.reason})`).join("; ")}`,
      );
  }
  if (r.unloggedTables.length) lines.push(`- UNLOGGED tables: ${r.unloggedTables.join(", ")}`);
  lines.push(
    "",
    "| check | kind | result | detail |",
    "|---|---|---|---|",
    ...r.checks.map((c) => `| ${cell(c.name)} | ${c.kind} | ${c.ok ? "ok" : "**FAILED**"} | ${cell(c.detail)} |`),
  );
  if (r.notes.length) lines.push("", "## Notes", "", ...r.notes.map((n) => `- ${n}`));
  return lines.join("\n") + "\n";
}
