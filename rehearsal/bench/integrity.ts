/**
 * verify-backup's integrity checks vs the plan's: the plan's three `NOT IN (subquery)` counts
 * (test-backup-integrity.sh), run as written, against our anti-join checks (every table read,
 * every declared foreign key, the plan's three where present). Both run on the same seeded
 * database, and the plan's three checks as anti-joins for a like-for-like figure. Then
 * verify-backup end to end: on the seeded database, and on the foreign fixture with many
 * relations. `NOT IN` can degrade to a nested scan per row once the subquery's ids no longer fit
 * in `work_mem`; it runs under a statement timeout, and a timed-out run is reported as a lower
 * bound, never as a measurement.
 */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type { Case, RunOutput } from "./harness.ts";
import { timed } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import { checkIntegrity, orphanQuery, PLAN_CHECKS as OUR_PLAN_CHECKS } from "../../runbooks/postgres/integrity.ts";
import { verifyBackup } from "../../runbooks/postgres/verify.ts";
import { backupDatabase } from "../../runbooks/postgres/logical.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { buildForeignDatabase } from "../stand-ins/foreign-schema.ts";
import { DB_NAME } from "./dataset.ts";

export const PLAN_NOT_IN = "plan.not_in";
export const OURS_ANTI_JOIN = "ours.anti_join";
export const OURS_PLAN_ANTI_JOINS = "ours.plan_anti_joins";

/** The plan's consistency checks, verbatim. */
export const PLAN_CHECKS: Record<string, string> = {
  "tickets→events": "SELECT COUNT(*) FROM tickets WHERE event_id NOT IN (SELECT id FROM events)",
  "payments→users": "SELECT COUNT(*) FROM payments WHERE user_id NOT IN (SELECT id FROM users)",
  "events→organizations": "SELECT COUNT(*) FROM events WHERE organizer_id NOT IN (SELECT id FROM organizations)",
};

export class TimedOut extends Error {}

/** Runs the plan's checks; throws TimedOut when one exceeds `timeoutSeconds`. */
export async function runPlanChecks(
  client: pg.Client,
  timeoutSeconds: number,
): Promise<{ phases: Record<string, number>; orphans: number }> {
  await client.query(`SET statement_timeout = ${Math.round(timeoutSeconds * 1000)}`);
  const phases: Record<string, number> = {};
  let orphans = 0;
  for (const [name, sql] of Object.entries(PLAN_CHECKS)) {
    try {
      const { value, seconds } = await timed(() => client.query<{ count: string }>(sql));
      phases[name] = seconds;
      orphans += Number(value.rows[0]!.count);
    } catch (error) {
      if ((error as { code?: string }).code === "57014") {
        throw new TimedOut(`"${sql}" did not finish within the ${timeoutSeconds} s statement timeout`);
      }
      throw error;
    }
  }
  return { phases, orphans };
}

/**
 * The NOT IN case. A run cut off by the timeout yields a sample of `timeoutSeconds` marked
 * `metrics.timedOut = 1`: a lower bound. Later repetitions are then skipped (they would only
 * repeat it) and reported as skipped, not as samples.
 */
export function planNotInCase(d: Dataset, timeoutSeconds: number): Case & { timedOut: () => string | undefined } {
  let timedOut: string | undefined;
  return {
    id: PLAN_NOT_IN,
    label: "plan: three NOT IN (subquery) counts",
    timedOut: () => timedOut,
    run: async (): Promise<RunOutput> => {
      if (timedOut) throw new Error(`skipped: an earlier repetition timed out (${timedOut})`);
      const client = await d.server.client(DB_NAME);
      const t0 = performance.now();
      try {
        const { value, seconds } = await timed(() => runPlanChecks(client, timeoutSeconds));
        return { seconds, phases: value.phases, metrics: { orphans: value.orphans } };
      } catch (error) {
        if (!(error instanceof TimedOut)) throw error;
        timedOut = error.message;
        return { seconds: (performance.now() - t0) / 1000, metrics: { timedOut: 1 } };
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * How PostgreSQL plans each NOT IN check: "hashed" (the subquery's ids fit in
 * work_mem × hash_mem_multiplier, one hash probe per row) or "per-row" (a rescan of the
 * materialised subquery for every outer row: quadratic).
 */
export async function notInPlanShapes(client: pg.Client): Promise<Record<string, "hashed" | "per-row">> {
  const shapes: Record<string, "hashed" | "per-row"> = {};
  for (const [name, sql] of Object.entries(PLAN_CHECKS)) {
    const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`);
    shapes[name] = rows.some((r) => /hashed SubPlan/.test(r["QUERY PLAN"])) ? "hashed" : "per-row";
  }
  return shapes;
}

/** Ours: verify-backup's whole integrity check (developer C's checkIntegrity). */
export function antiJoinCase(d: Dataset): Case {
  return {
    id: OURS_ANTI_JOIN,
    label: "ours: checkIntegrity (every table read, every declared FK + the plan's three, anti-joins)",
    run: async (): Promise<RunOutput> => {
      const client = await d.server.client(DB_NAME);
      try {
        const { value, seconds } = await timed(() => checkIntegrity(client));
        const failed = value.filter((c) => !c.ok);
        if (failed.length > 0)
          throw new Error(
            `integrity check failed on the seeded database: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
          );
        return { seconds, metrics: { checks: value.length } };
      } finally {
        await client.end();
      }
    },
  };
}

/** Like for like: the plan's three checks written as our anti-joins (C's orphanQuery). */
export function planAntiJoinCase(d: Dataset): Case {
  return {
    id: OURS_PLAN_ANTI_JOINS,
    label: "the plan's three checks as anti-joins (NOT EXISTS)",
    run: async (): Promise<RunOutput> => {
      const client = await d.server.client(DB_NAME);
      try {
        const phases: Record<string, number> = {};
        let orphans = 0;
        for (const fk of OUR_PLAN_CHECKS) {
          const { value, seconds } = await timed(() => client.query<{ orphans: string }>(orphanQuery(fk)));
          phases[`${fk.child}→${fk.parent}`] = seconds;
          orphans += Number(value.rows[0]!.orphans);
        }
        return { phases, metrics: { orphans } };
      } finally {
        await client.end();
      }
    },
  };
}

export const OURS_VERIFY_BACKUP = "ours.verify_backup";
export const OURS_VERIFY_MANY = "ours.verify_backup_many_relations";

/**
 * Extra `sales`-like schemas in the many-relations database (6 tables, 2 declared keys each; the
 * fixture itself has 14 tables and 5 keys). Measured once at 200 (1 214 tables, 405 keys):
 * verify-backup 13.6 s, of which pg_restore 12.5 s and every check 0.5 s.
 */
export const MANY_RELATIONS_COPIES = { quick: 10, full: 200 };

/**
 * verify-backup end to end (runbooks/postgres/verify.ts): manifest, the object read back and
 * hashed, a scratch restore with its roles, every check against the manifest, the scratch
 * database dropped. The backup it verifies is taken once, untimed, before the first run.
 */
function verifyCase(
  id: string,
  label: string,
  s3: { endpoint: string; bucket: string },
  server: Dataset["server"],
  database: () => Promise<string>,
): Case {
  const client = new BackupS3Client({ region: "us-east-1", endpoint: s3.endpoint });
  const prefix = `bench-verify/${id}/`;
  let backupId: string | undefined;
  return {
    id,
    label,
    prepare: async () => {
      if (backupId) return;
      const manifest = await backupDatabase({
        conn: server.connection(await database()),
        binDir: server.binDir,
        s3: client,
        bucket: s3.bucket,
        prefix,
      });
      backupId = manifest.backupId;
    },
    run: async (): Promise<RunOutput> => {
      const phases: Record<string, number> = {};
      let phase: string | undefined;
      let since = performance.now();
      const mark = (next?: string) => {
        const now = performance.now();
        if (phase) phases[phase] = (phases[phase] ?? 0) + (now - since) / 1000;
        phase = next;
        since = now;
      };
      const report = await verifyBackup({
        s3: client,
        bucket: s3.bucket,
        prefix,
        backupId: backupId!,
        server: server.connection(),
        binDir: server.binDir,
        progress: (p) => mark(p),
      });
      mark();
      if (!report.ok)
        throw new Error(
          `verify-backup failed on the bench's database: ${report.checks
            .filter((c) => !c.ok)
            .map((c) => `${c.name}: ${c.detail}`)
            .join("; ")}`,
        );
      const count = (kind: string) => report.checks.filter((c) => c.kind === kind).length;
      return {
        phases,
        metrics: {
          checks: report.checks.length,
          tables: count("row-count") + count("table"),
          foreignKeys: count("foreign-key"),
        },
      };
    },
  };
}

/** verify-backup of the bench's seeded EventChain database (its default size: 1 GiB). */
export function verifyBackupCase(d: Dataset, s3: { endpoint: string; bucket: string }): Case {
  return verifyCase(
    OURS_VERIFY_BACKUP,
    "ours: verify-backup end to end (read back, scratch restore, every check, drop)",
    s3,
    d.server,
    async () => DB_NAME,
  );
}

/**
 * verify-backup of the foreign fixture with `copies` more partitioned schemas: its cost with many
 * relations (each table counted, each key checked, each object restored and its ACL compared).
 */
export function verifyManyRelationsCase(d: Dataset, s3: { endpoint: string; bucket: string }, copies: number): Case {
  let built: Promise<string> | undefined;
  return verifyCase(
    OURS_VERIFY_MANY,
    `ours: verify-backup of the foreign fixture with ${copies} more partitioned schemas (${14 + 6 * copies} tables)`,
    s3,
    d.server,
    () => (built ??= buildForeignDatabase(d.server, "foreign_bench", { copies }).then(() => "foreign_bench")),
  );
}
