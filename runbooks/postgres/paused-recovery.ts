/**
 * A recovered server held read-only at its stop, verified before it takes writes, then promoted
 * (`restoreToTime` with the action `pause`). Where it stops: paused at its recovery target, or —
 * for the end of the WAL, which has no target — a standby that has replayed every segment it can
 * fetch and waits for more (its startup process in `RecoveryRetrieveRetryInterval`), replay then
 * paused too. Verification and promotion run side by side: the checks' connections take their
 * snapshot while the server is paused (REPEATABLE READ, read-only), so every check reads exactly
 * the recovered data — a snapshot taken in recovery stays valid after promotion — while
 * `pg_promote()` opens the server for writes without an end-of-recovery checkpoint first, and
 * what must wait for the promotion (it takes writes, its new timeline) is checked after it.
 */
import type pg from "pg";
import { checkDatabase, type Expectations, type IntegrityResult } from "./integrity.ts";

/** Where a recovering server is: still replaying, held at its stop, or already promoted. */
export type RecoveryState = "replaying" | "paused" | "promoted";

/** Pure: the state from `pg_is_in_recovery()`, the pause state and the startup process's wait event. */
export function recoveryStateOf(r: { inRecovery: boolean; pause: string | null; startupWait: string | null }): {
  state: RecoveryState;
  /** Caught up with the archive (standby): replay must still be paused before the snapshot. */
  caughtUp: boolean;
} {
  if (!r.inRecovery) return { state: "promoted", caughtUp: false };
  // Requested (by us, once caught up): nothing more is applied, even if more WAL arrived.
  if (r.pause === "paused" || r.pause === "pause requested") return { state: "paused", caughtUp: false };
  if (r.startupWait === "RecoveryRetrieveRetryInterval") return { state: "paused", caughtUp: true };
  return { state: "replaying", caughtUp: false };
}

/** Reads where the server is; a standby caught up with the archive gets its replay paused. */
export async function recoveryState(c: pg.Client): Promise<{ state: RecoveryState; replayLsn: string | null }> {
  const { rows } = await c.query<{ rec: boolean; pause: string | null; wait: string | null; lsn: string | null }>(
    `SELECT pg_is_in_recovery() AS rec,
            CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause,
            (SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup') AS wait,
            pg_last_wal_replay_lsn()::text AS lsn`,
  );
  const r = rows[0]!;
  const s = recoveryStateOf({ inRecovery: r.rec, pause: r.pause, startupWait: r.wait });
  // Nothing more is replayed once a pause is requested (it is checked before every record).
  if (s.caughtUp) await c.query("SELECT pg_wal_replay_pause()");
  return { state: s.state, replayLsn: r.lsn };
}

/**
 * Pure: PostgreSQL's own account of a replay that paused: from its log's "redo starts at" line
 * (time and LSN, `log_line_prefix` starting with `%m`) to `end` (the paused replay position and
 * when it was seen; the log's "pausing at the end of recovery" time when it has one).
 */
export function pausedRedo(log: string, end: { lsn: string; at: Date }): { seconds: number; walBytes: number } | null {
  const ts = "(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) (UTC|[+-]\\d\\d)";
  const start = new RegExp(`^${ts}[^\\n]*redo starts at ([0-9A-F]+/[0-9A-F]+)`, "im").exec(log);
  if (!start) return null;
  const when = (t: string, zone: string) => Date.parse(`${t.replace(" ", "T")}${zone === "UTC" ? "Z" : `${zone}:00`}`);
  const paused = new RegExp(`^${ts}[^\\n]*pausing at the end of recovery`, "im").exec(log);
  const endAt = paused ? when(paused[1]!, paused[2]!) : end.at.getTime();
  const seconds = (endAt - when(start[1]!, start[2]!)) / 1000;
  const walBytes = Number(lsnBytes(end.lsn) - lsnBytes(start[3]!));
  return seconds >= 0 && walBytes >= 0 ? { seconds, walBytes } : null;
}

/** Pure: an LSN such as `0/3000028` as a byte position. */
export function lsnBytes(lsn: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn.trim());
  if (!m) throw new Error(`invalid LSN "${lsn}": expected <hex>/<hex>`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

export interface VerifiedPromotion<T, B = undefined> {
  /** The integrity checks, each on the snapshot taken while paused. */
  integrity: IntegrityResult;
  /** What was checked on the held server just before the promotion. */
  beforePromotion: B;
  /** What was checked after the promotion. */
  afterPromotion: T;
  /** The replay position every check's snapshot holds. */
  snapshotLsn: string;
  /** When the snapshot was held, the server promoted, the checks finished (ISO). */
  at: { snapshot: string; promoted: string; checked: string };
}

/**
 * Verifies the paused server and promotes it, side by side (see the module doc). `connect` opens
 * a connection to it; the checks use `concurrency` connections, opened and snapshotted first.
 * Nothing is promoted unless every snapshot was taken while the server was still paused.
 * @throws Error when the server is not paused at its stop, or the promotion does not finish
 *   within `promoteTimeoutSeconds`; failed checks are returned, never thrown.
 */
export async function verifyWhilePromoting<T, B = undefined>(o: {
  connect: () => Promise<pg.Client>;
  expectations?: Expectations;
  concurrency?: number;
  promoteTimeoutSeconds: number;
  /** Checked on the held server, once the snapshot is taken and before the promotion; throw to stop it. */
  beforePromotion?: (c: pg.Client) => Promise<B>;
  afterPromotion: (c: pg.Client) => Promise<T>;
}): Promise<VerifiedPromotion<T, B>> {
  const width = Math.max(1, o.concurrency ?? 2);
  const control = await o.connect();
  const held: pg.Client[] = [];
  try {
    for (let i = 0; i < width; i++) held.push(await o.connect());
    const lsns = new Set<string>();
    for (const c of held) {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      lsns.add((await c.query<{ l: string }>("SELECT pg_last_wal_replay_lsn()::text AS l")).rows[0]!.l);
    }
    const state = await recoveryState(control);
    if (state.state !== "paused" || lsns.size !== 1 || !lsns.has(state.replayLsn ?? ""))
      throw new Error(
        `the recovered server is not held at its stop (${state.state}, replay at ${state.replayLsn ?? "?"}; snapshots at ${[...lsns].join(", ")}): nothing was promoted`,
      );
    const snapshotAt = new Date().toISOString();
    const beforePromotion = (await o.beforePromotion?.(control)) as B;
    const extra = held.slice(1);
    const checks = checkDatabase(held[0]!, o.expectations ?? {}, {
      concurrency: width,
      connect: async () => extra.shift() ?? (await o.connect()),
    });
    checks.catch(() => {}); // awaited below, after the promotion
    const promoted = await control.query<{ ok: boolean }>("SELECT pg_promote(true, $1) AS ok", [
      o.promoteTimeoutSeconds,
    ]);
    if (!promoted.rows[0]!.ok)
      throw new Error(`the recovered server did not promote within ${o.promoteTimeoutSeconds} s`);
    const promotedAt = new Date().toISOString();
    const afterPromotion = await o.afterPromotion(control);
    const integrity = await checks;
    return {
      integrity,
      beforePromotion,
      afterPromotion,
      snapshotLsn: state.replayLsn!,
      at: { snapshot: snapshotAt, promoted: promotedAt, checked: new Date().toISOString() },
    };
  } finally {
    for (const c of [control, ...held]) await c.end().catch(() => {});
  }
}
