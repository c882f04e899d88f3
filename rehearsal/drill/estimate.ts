/**
 * The estimate the drill prints before its disaster: RTO from the figures in use (measured by
 * earlier drills where calibrated, assumed otherwise; `infra/posture/self-managed.ts`) for this
 * database's sizes, and RPO both as the worst case of the archive settings and as predicted for
 * this very moment from the archiver's own account. After the recovery, `ratio` sets it beside
 * what was achieved.
 */
import type pg from "pg";
import { cpus, loadavg } from "node:os";
import { CALIBRATION, FIGURES } from "../../infra/posture/figures.ts";
import { rtoSpread } from "../../infra/posture/rto-range.ts";
import {
  estimateSelfManaged,
  predictedCrashLossSeconds,
  type SelfManagedEstimate,
} from "../../infra/posture/self-managed.ts";
import type { ArchiveSettings, WalStream } from "./archiving.ts";
import { archiverStatus } from "./archiving.ts";
import { lsnBytes } from "./measure.ts";

/** Pure: the LSN (as bytes) where the WAL segment file `name` ends. */
export function segmentEnd(name: string, segmentBytes: number): bigint {
  // A segment, or a file named after one: `<segment>.partial`, `<segment>.<offset>.backup`.
  const m = /^[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})(\.partial|\.[0-9A-F]{8}\.backup)?$/.exec(name);
  if (!m) throw new Error(`invalid WAL segment name "${name}": expected 24 hexadecimal digits`);
  const perLogId = 0x1_0000_0000n / BigInt(segmentBytes);
  const segNo = BigInt(`0x${m[1]}`) * perLogId + BigInt(`0x${m[2]}`);
  return (segNo + 1n) * BigInt(segmentBytes);
}

export interface DrillEstimate {
  at: string;
  inputs: { backupBytes: number; databaseBytes: number; walBytes: number };
  rto: SelfManagedEstimate["rto"];
  rpo: {
    worstCaseSeconds: number;
    basis: string;
    /** What a crash right now loses (bad data: the recovery stops just before the statement: 0). */
    nowSeconds: number;
    nowBasis: string;
  };
  /** Each figure used, with its kind and source (what the estimate rests on). */
  figures: { id: string; value: number; unit: string; kind: string; source: string }[];
}

export async function estimateNow(
  client: pg.Client,
  o: {
    scenario: "crash" | "bad-data";
    settings: ArchiveSettings;
    backup: { sizeBytes: number; lsnStop: string; stoppedAt: string };
    stream: WalStream | null;
    /** When the writers started: nothing was written between the base backup and then. */
    writesSince: Date;
    /** The WAL the writers produce per second, measured over their run so far. */
    walBytesPerSecond?: number;
  },
): Promise<DrillEstimate> {
  const { rows } = await client.query<{ db: string; wal: string; now: Date; seg: string }>(
    `SELECT pg_database_size('eventchain')::text AS db, pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint::text AS wal,
            clock_timestamp() AS now, pg_size_bytes(current_setting('wal_segment_size'))::text AS seg`,
    [o.backup.lsnStop],
  );
  const status = await archiverStatus(client);
  // What recovery will replay: after a crash without streaming, only the WAL in the repository.
  let walBytes = Number(rows[0]!.wal);
  if (o.scenario === "crash" && !o.stream) {
    // A timeline history file names no segment: count nothing past the backup then.
    const archivedEnd =
      status.lastWal && !status.lastWal.endsWith(".history") ? segmentEnd(status.lastWal, Number(rows[0]!.seg)) : 0n;
    walBytes = Math.max(0, Math.min(walBytes, Number(archivedEnd - lsnBytes(o.backup.lsnStop))));
  }
  const inputs = { backupBytes: o.backup.sizeBytes, databaseBytes: Number(rows[0]!.db), walBytes };
  const e = estimateSelfManaged({
    ...inputs,
    archiveTimeoutSeconds: o.settings.archiveTimeoutSeconds,
    streaming: o.settings.streaming,
    ...(o.walBytesPerSecond ? { walBytesPerSecond: o.walBytesPerSecond } : {}),
    // How sure: the calibration drills' spread, at the load this shared machine has now.
    spread: rtoSpread(CALIBRATION, FIGURES),
    loadPerCore: loadavg()[0]! / cpus().length,
  });
  let nowSeconds: number;
  let nowBasis: string;
  if (o.scenario === "bad-data") {
    nowSeconds = 0;
    nowBasis = "the recovery stops just before the destructive statement: nothing committed before it is lost";
  } else if (o.stream) {
    nowSeconds = await o.stream.flushLagSeconds(client);
    nowBasis = `pg_receivewal's flush lag reported to the primary: ${nowSeconds} s`;
  } else {
    const push = FIGURES.selfManagedArchivePush.value;
    const backupEnd = new Date(o.backup.stoppedAt);
    nowSeconds = predictedCrashLossSeconds({
      now: rows[0]!.now,
      lastArchivedAt: status.lastArchivedAt,
      sinceAt: o.writesSince > backupEnd ? o.writesSince : backupEnd,
      archivePushSeconds: push,
    });
    nowBasis = status.lastArchivedAt
      ? `the newest segment in the repository (${status.lastWal}) was archived at ${status.lastArchivedAt.toISOString()}: what was written since, less ${push} s of push`
      : "no segment archived since the base backup: everything written since";
  }
  return {
    at: rows[0]!.now.toISOString(),
    inputs,
    rto: e.rto,
    rpo: {
      worstCaseSeconds: e.rpo.worstCaseSeconds,
      basis: e.rpo.basis,
      nowSeconds: Math.round(nowSeconds * 1000) / 1000,
      nowBasis,
    },
    figures: e.figures
      .map((id) => ({ id, ...FIGURES[id] }))
      .map(({ id, value, unit, kind, source }) => ({ id, value, unit, kind, source })),
  };
}

/** Pure: estimate ÷ achieved, null when either is too small to divide meaningfully (< 0.05 s). */
export function ratio(estimate: number, achieved: number): number | null {
  if (!(achieved >= 0.05) || !(estimate >= 0.05)) return null;
  return Math.round((estimate / achieved) * 100) / 100;
}
