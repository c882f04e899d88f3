/**
 * The drill's verdict, once it recovered: what each recovery phase took by the tools' own
 * accounts (what `--calibrate` records), the RTO beside its estimate and the range printed
 * before the disaster, the RPO beside its estimate, and whether the objectives were met and the
 * data verified. Pure.
 */
import { MIN_REDO_SECONDS, type MeasuredPhases } from "../../infra/posture/calibration.ts";
import { inRange } from "../../infra/posture/rto-range.ts";
import type { DrillEstimate } from "./estimate.ts";
import { ratio } from "./estimate.ts";
import type { DrillReport } from "./drill-report.ts";
import { median } from "./measure.ts";

/** Less WAL than this replays too fast to time (and switched segments pad its LSN distance). */
const MIN_REDO_BYTES = 16 * 1024 ** 2;

export interface RecoveryTimes {
  incidentAt: Date;
  /** The application's first sale committed on the recovered server. */
  readyAt: Date;
  /** The runbook's checks of the recovered data passed (and it was promoted). */
  verifiedAt: Date;
  /** pgBackRest's own account of its restore, seconds. */
  restoreSeconds: number | undefined;
  /** PostgreSQL's redo up to the stop. */
  redo: { seconds: number; walBytes: number } | null;
}

export interface LoadMeasures {
  backupBytes: number;
  pushes: number[];
  walBytesWritten: number;
  elapsedSeconds: number;
  ackedBefore: number;
  streaming: boolean;
}

/** Pure: the measured phases of a recovery (bytes and seconds each). */
export function measuredPhases(
  t: RecoveryTimes,
  e: DrillEstimate,
  load: LoadMeasures,
  rpoSeconds: number,
  scenario: DrillReport["scenario"],
): MeasuredPhases {
  const ready = (t.readyAt.getTime() - t.incidentAt.getTime()) / 1000;
  const verified = (t.verifiedAt.getTime() - t.incidentAt.getTime()) / 1000;
  const redo = t.redo;
  return {
    ...(t.restoreSeconds ? { restore: { bytes: load.backupBytes, seconds: t.restoreSeconds } } : {}),
    // Too little WAL to time (PostgreSQL logs centiseconds): no measurement of the redo rate.
    ...(redo && redo.seconds >= MIN_REDO_SECONDS && redo.walBytes >= MIN_REDO_BYTES
      ? { redo: { bytes: redo.walBytes, seconds: redo.seconds } }
      : {}),
    ...(t.restoreSeconds
      ? {
          overhead: {
            bytes: e.inputs.databaseBytes,
            seconds: Math.max(0.001, ready - t.restoreSeconds - (redo?.seconds ?? 0)),
          },
        }
      : {}),
    // What verification adds after ready for writes (it runs side by side with the promotion).
    verify: { bytes: e.inputs.databaseBytes, seconds: Math.max(0.001, verified - ready) },
    ...(load.pushes.length ? { archivePush: { seconds: median(load.pushes)! } } : {}),
    ...(load.walBytesWritten > 0 && load.elapsedSeconds > 0
      ? { walRate: { bytesPerSecond: load.walBytesWritten / load.elapsedSeconds } }
      : {}),
    ...(load.streaming && scenario === "crash" ? { streamLag: { seconds: rpoSeconds } } : {}),
  };
}

/** Pure: the RTO and RPO lines of the report, and the verdict; fills `report` in place. */
export function judge(
  report: DrillReport,
  t: RecoveryTimes,
  e: DrillEstimate,
  outcome: { ok: boolean; rpoSeconds: number; rpoBasis: string; problems: string[] },
): DrillReport["verdict"] {
  const objective = report.objective!;
  const ready = (t.readyAt.getTime() - t.incidentAt.getTime()) / 1000;
  const verified = Math.max(ready, (t.verifiedAt.getTime() - t.incidentAt.getTime()) / 1000);
  const achieved = Math.round(verified * 100) / 100;
  const range = e.rto.range;
  report.rto = {
    readyForWritesSeconds: Math.round(ready * 100) / 100,
    achievedSeconds: achieved,
    objectiveMinutes: objective.rtoMinutes,
    met: verified <= objective.rtoMinutes * 60,
    estimateReadyForWritesSeconds: e.rto.readyForWritesSeconds,
    estimateSeconds: range?.seconds ?? e.rto.verifiedSeconds,
    ratio: ratio(range?.seconds ?? e.rto.verifiedSeconds, verified),
    range: range ? { seconds: range.seconds, low: range.low, high: range.high, basis: range.basis } : null,
    inRange: range ? inRange(achieved, range) : null,
  };
  report.rpo = {
    achievedSeconds: outcome.rpoSeconds,
    basis: outcome.rpoBasis,
    objectiveMinutes: objective.rpoMinutes,
    met: outcome.rpoSeconds <= objective.rpoMinutes * 60,
    estimateSeconds: e.rpo.nowSeconds,
    worstCaseSeconds: report.scenario === "crash" ? e.rpo.worstCaseSeconds : null,
    ratio: ratio(e.rpo.nowSeconds, outcome.rpoSeconds),
  };
  const v = report.verification;
  const verifiedOk = Boolean(v.logicalBackup?.ok && v.recoveredDatabase?.ok && outcome.ok);
  if (!verifiedOk)
    report.failure = [
      ...(v.logicalBackup?.ok ? [] : ["the logical backup failed its verification"]),
      ...(v.recoveredDatabase?.ok ? [] : ["the recovered database failed its verification"]),
      ...outcome.problems,
    ].join("; ");
  return !verifiedOk ? "failed" : report.rto.met && report.rpo.met ? "objectives_met" : "objectives_missed";
}
