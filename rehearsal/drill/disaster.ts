/**
 * The two disasters. A crash without warning: the primary is killed (an immediate stop, as power
 * loss) and its data directory deleted, while the writers are committing — no `pgbackrest check`,
 * no forced WAL switch, no pause first. A destructive statement: `DELETE FROM payments` without
 * WHERE, committed while the writers keep selling; its transaction id and commit time are
 * recorded (the recovery stops just before it).
 */
import { rm } from "node:fs/promises";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import type { Destruction } from "./data-outcome.ts";

/** Kills the primary and deletes its data directory; returns when both are done (the incident). */
export async function crash(pgs: LocalPostgres): Promise<Date> {
  await pgs.stop("immediate");
  await rm(pgs.dataDir, { recursive: true, force: true });
  return new Date();
}

export const DESTRUCTIVE_STATEMENT = "DELETE FROM payments";

/**
 * Runs the destructive statement in its own transaction. It takes an EXCLUSIVE lock on payments
 * first (the writers' inserts wait for it, for milliseconds) so the ground truth is exact: every
 * sale either committed before the statement — and is among the rows it deletes, returned here —
 * or waited and committed after it. The recovery knows nothing of this lock.
 */
export async function destructiveStatement(pgs: LocalPostgres, seededTicketsMax: number): Promise<Destruction> {
  const c = await pgs.client("eventchain");
  try {
    await c.query("BEGIN");
    // The 32-bit transaction id (recovery_target_xid and pg_xact_commit_timestamp take that).
    const { rows: x } = await c.query<{ xid: string }>("SELECT (txid_current() % 4294967296)::text AS xid");
    await c.query("LOCK TABLE payments IN EXCLUSIVE MODE");
    const { rows } = await c.query<{ n: string; writer: string[] | null }>(
      `WITH d AS (${DESTRUCTIVE_STATEMENT} RETURNING ticket_id)
       SELECT count(*)::text AS n, array_agg(ticket_id::text) FILTER (WHERE ticket_id > $1) AS writer FROM d`,
      [seededTicketsMax],
    );
    await c.query("COMMIT");
    const xid = x[0]!.xid;
    // Compared on the server at microsecond precision; kept as text (a Date would cut it to ms).
    const { rows: t } = await c.query<{ at: string }>(
      `SELECT to_char(pg_xact_commit_timestamp($1::text::xid) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
      [xid],
    );
    return {
      statement: DESTRUCTIVE_STATEMENT,
      xid,
      committedAt: t[0]!.at,
      rowsRemoved: Number(rows[0]!.n),
      writerTicketsBefore: (rows[0]!.writer ?? []).map(Number).sort((a, b) => a - b),
    };
  } catch (error) {
    await c.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await c.end();
  }
}
