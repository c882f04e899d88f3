/**
 * Integrity checks of a restored (or recovered) EventChain database, and their report.
 *
 * - the plan's expected tables exist and are not empty;
 * - row counts equal the backup manifest's;
 * - every foreign key the catalog declares holds, plus the plan's three explicit checks.
 *
 * Orphan checks are anti-joins (`NOT EXISTS`), never `NOT IN (subquery)`: `NOT IN` returns no
 * row at all once the subquery yields a NULL, and cannot use an anti-join plan at scale. A child
 * row with a NULL in its key is not an orphan (MATCH SIMPLE), exactly as PostgreSQL enforces.
 */
import type pg from "pg";
import { EVENTCHAIN_TABLES } from "../local/eventchain-schema.ts";

export interface Check {
  name: string;
  kind: "table" | "row-count" | "foreign-key" | "plan-check" | "restore" | "object";
  ok: boolean;
  detail: string;
}

export interface ForeignKey {
  name: string;
  child: string;
  parent: string;
  childColumns: string[];
  parentColumns: string[];
}

/** The plan's three explicit consistency checks (test-backup-integrity.sh), as anti-joins. */
export const PLAN_CHECKS: ForeignKey[] = [
  {
    name: "tickets.event_id → events.id",
    child: "tickets",
    parent: "events",
    childColumns: ["event_id"],
    parentColumns: ["id"],
  },
  {
    name: "payments.user_id → users.id",
    child: "payments",
    parent: "users",
    childColumns: ["user_id"],
    parentColumns: ["id"],
  },
  {
    name: "events.organizer_id → organizations.id",
    child: "events",
    parent: "organizations",
    childColumns: ["organizer_id"],
    parentColumns: ["id"],
  },
];

/** Pure: the anti-join counting orphans of `fk` (identifiers must already be quoted/safe). */
export function orphanQuery(fk: ForeignKey): string {
  const notNull = fk.childColumns.map((c) => `c.${c} IS NOT NULL`).join(" AND ");
  const match = fk.childColumns.map((c, i) => `p.${fk.parentColumns[i]} = c.${c}`).join(" AND ");
  return `SELECT count(*)::bigint AS orphans FROM ${fk.child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${fk.parent} p WHERE ${match})`;
}

/** Every foreign key declared in the catalog, identifiers quoted with `%I`. */
export async function declaredForeignKeys(client: pg.Client): Promise<ForeignKey[]> {
  const { rows } = await client.query<{
    name: string;
    child: string;
    parent: string;
    child_cols: string[];
    parent_cols: string[];
  }>(`
    SELECT con.conname AS name,
           format('%I.%I', cn.nspname, cl.relname) AS child, format('%I.%I', pn.nspname, pl.relname) AS parent,
           array_agg(format('%I', ca.attname) ORDER BY k.i) AS child_cols, array_agg(format('%I', pa.attname) ORDER BY k.i) AS parent_cols
    FROM pg_constraint con
    JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cl.relnamespace
    JOIN pg_class pl ON pl.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pl.relnamespace
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(ck, pk, i)
    JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
    JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
    WHERE con.contype = 'f'
    GROUP BY con.oid, con.conname, cn.nspname, cl.relname, pn.nspname, pl.relname
    ORDER BY 1`);
  return rows.map((r) => ({
    name: r.name,
    child: r.child,
    parent: r.parent,
    childColumns: r.child_cols,
    parentColumns: r.parent_cols,
  }));
}

export interface IntegrityOptions {
  /** Tables that must exist and be non-empty. Default: the plan's five. */
  expectedTables?: readonly string[];
  /** Row counts the backup recorded; each table's count must match. */
  expectedRowCounts?: Record<string, number>;
  /** Opens another connection to the same database, so that checks run side by side. */
  connect?: () => Promise<pg.Client>;
  /** How many checks run at once (default 1; more need `connect`). Each may also use parallel query. */
  concurrency?: number;
}

/** Pure: what an orphan check compares, whatever the schema qualification and quoting. */
function checkKey(fk: ForeignKey): string {
  const bare = (name: string) => name.replace(/^"?public"?\./, "").replace(/"/g, "");
  return `${bare(fk.child)}(${fk.childColumns.map(bare).join(",")})→${bare(fk.parent)}(${fk.parentColumns.map(bare).join(",")})`;
}

/**
 * Runs queries on up to `concurrency` connections at once; a query asked twice under one key (the
 * plan's three checks are also declared foreign keys) runs once and both get its result.
 */
function queryPool(client: pg.Client, o: IntegrityOptions) {
  const width = o.connect ? Math.max(1, Math.floor(o.concurrency ?? 1)) : 1;
  const idle: pg.Client[] = [client];
  const opened: pg.Client[] = [];
  const waiting: ((c: pg.Client) => void)[] = [];
  let open = 1;
  const acquire = async (): Promise<pg.Client> => {
    const free = idle.pop();
    if (free) return free;
    if (open < width) {
      open++;
      const c = await o.connect!();
      opened.push(c);
      return c;
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (c: pg.Client) => {
    const next = waiting.shift();
    if (next) next(c);
    else idle.push(c);
  };
  const memo = new Map<string, Promise<number>>();
  return {
    /** The number the single-row, single-column query `sql` returns. */
    number(key: string, sql: string): Promise<number> {
      let p = memo.get(key);
      if (!p) {
        p = (async () => {
          const c = await acquire();
          try {
            const { rows } = await c.query<{ n: string }>(sql);
            return Number(Object.values(rows[0] ?? {})[0]);
          } finally {
            release(c);
          }
        })();
        p.catch(() => {}); // awaited by the caller, maybe after another check failed
        memo.set(key, p);
      }
      return p;
    },
    orphans(fk: ForeignKey): Promise<number> {
      return this.number(`orphans ${checkKey(fk)}`, orphanQuery(fk));
    },
    async close() {
      await Promise.all(opened.map((c) => c.end().catch(() => {})));
    },
  };
}

/** Runs every check on the connected database. Never throws for a failed check: it reports it. */
export async function checkIntegrity(client: pg.Client, options: IntegrityOptions = {}): Promise<Check[]> {
  const { rows: present } = await client.query<{ t: string }>(
    "SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r','p')",
  );
  const have = new Set(present.map((r) => r.t));
  const pool = queryPool(client, options);
  try {
    return await runChecks(client, pool, have, options);
  } finally {
    await pool.close();
  }
}

async function runChecks(
  client: pg.Client,
  pool: ReturnType<typeof queryPool>,
  have: Set<string>,
  options: IntegrityOptions,
): Promise<Check[]> {
  const checks: Check[] = [];
  const expected = options.expectedTables ?? EVENTCHAIN_TABLES;
  const tables = [...new Set([...expected, ...Object.keys(options.expectedRowCounts ?? {})])].filter((t) =>
    have.has(t),
  );
  const declared = await declaredForeignKeys(client);
  const planned = PLAN_CHECKS.filter((fk) => have.has(fk.child) && have.has(fk.parent));
  // Every query is started before any is awaited: side by side when there are connections for it.
  const counting = tables.map((t) =>
    pool.number(`count ${t}`, `SELECT count(*)::bigint AS n FROM public.${quoteIdent(t)}`),
  );
  const declaredCounts = declared.map((fk) => pool.orphans(fk));
  const plannedCounts = new Map(planned.map((fk) => [fk, pool.orphans(fk)]));
  const counts: Record<string, number> = {};
  for (const [i, t] of tables.entries()) counts[t] = await counting[i]!;
  for (const t of expected) {
    if (!have.has(t)) checks.push({ name: `table ${t}`, kind: "table", ok: false, detail: "missing" });
    else
      checks.push({
        name: `table ${t}`,
        kind: "table",
        ok: counts[t]! > 0,
        detail: counts[t]! > 0 ? `${counts[t]} rows` : "empty",
      });
  }
  for (const [t, want] of Object.entries(options.expectedRowCounts ?? {})) {
    const got = counts[t];
    checks.push({
      name: `row count ${t}`,
      kind: "row-count",
      ok: got === want,
      detail:
        got === undefined
          ? `table missing, manifest has ${want} rows`
          : got === want
            ? `${got} rows, as in the manifest`
            : `${got} rows, manifest has ${want}`,
    });
  }
  for (const [i, fk] of declared.entries()) {
    const n = await declaredCounts[i]!;
    checks.push({
      name: `${fk.name} (${fk.child} → ${fk.parent})`,
      kind: "foreign-key",
      ok: n === 0,
      detail: n === 0 ? "no orphans" : `${n} orphan row(s)`,
    });
  }
  for (const fk of PLAN_CHECKS) {
    const counted = plannedCounts.get(fk);
    if (!counted) {
      checks.push({
        name: fk.name,
        kind: "plan-check",
        ok: false,
        detail: `cannot check: ${!have.has(fk.child) ? fk.child : fk.parent} is missing`,
      });
      continue;
    }
    const n = await counted;
    checks.push({
      name: fk.name,
      kind: "plan-check",
      ok: n === 0,
      detail: n === 0 ? "no orphans" : `${n} orphan row(s)`,
    });
  }
  return checks;
}

/** Pure: `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface VerificationReport {
  reportVersion: 1;
  backupId: string | null;
  database: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  checks: Check[];
}

export function buildVerificationReport(input: Omit<VerificationReport, "reportVersion" | "ok">): VerificationReport {
  return { reportVersion: 1, ...input, ok: input.checks.length > 0 && input.checks.every((c) => c.ok) };
}

/** Pure: the report as Markdown (a verdict line and one table row per check). */
export function renderVerificationMarkdown(r: VerificationReport): string {
  const failed = r.checks.filter((c) => !c.ok);
  const lines = [
    `# Backup verification: ${r.ok ? "PASSED" : "FAILED"}`,
    "",
    `- Backup: ${r.backupId ?? "(live database)"}`,
    `- Database checked: ${r.database}`,
    `- Started ${r.startedAt}, finished ${r.finishedAt}`,
    `- ${r.checks.length - failed.length} of ${r.checks.length} checks passed`,
    "",
    "| check | kind | result | detail |",
    "|---|---|---|---|",
    ...r.checks.map(
      (c) => `| ${c.name} | ${c.kind} | ${c.ok ? "ok" : "**FAILED**"} | ${c.detail.replace(/\|/g, "\\|")} |`,
    ),
  ];
  return lines.join("\n") + "\n";
}
