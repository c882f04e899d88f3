/**
 * The self-managed recovery path (pgBackRest: restore a base backup, replay the archived WAL,
 * promote, verify) estimated from the figures in use: measured by drills where calibrated
 * (`calibration.json`), assumed otherwise. Pure. The drill prints this estimate before its
 * disaster and sets it beside what it achieves; the posture report gives it for the declared
 * database.
 */
import { FIGURES, type Figure, type FigureId } from "./figures.ts";
import { rtoRange, type RtoRange, type RtoSpread } from "./rto-range.ts";

export type Streaming = "off" | "pg_receivewal";

export interface SelfManagedInput {
  /** Bytes of the base backup restored (pgBackRest's backup size). */
  backupBytes: number;
  /** Bytes of the database verified after recovery. */
  databaseBytes: number;
  /** WAL bytes replayed: from the base backup's end to the recovery point. */
  walBytes: number;
  /** PostgreSQL's archive_timeout (from the stack config). */
  archiveTimeoutSeconds: number;
  /** Continuous WAL streaming into the repository host. */
  streaming: Streaming;
  /** Human time before the runbook starts (the posture adds the failover decision; a drill none). */
  decisionSeconds?: number;
  /** WAL written per second now, when known (a drill measures its own); default the figure in use. */
  walBytesPerSecond?: number;
  /** The calibration drills' spread around the model (`rto-range.ts`): the estimate becomes a range. */
  spread?: RtoSpread | null;
  /** The load per core now (a drill reads its own); null: the calibration drills' middle load. */
  loadPerCore?: number | null;
}

export interface SelfManagedEstimate {
  rto: {
    /** Incident → the recovered server takes writes. */
    readyForWritesSeconds: number;
    /** Incident → verify-backup passed on the recovered database. */
    verifiedSeconds: number;
    phases: { decision: number; overhead: number; restore: number; redo: number; verify: number };
    /**
     * Incident → verified as a range from the calibration drills' spread, the point estimate
     * (the model's, corrected for the load) inside; null without a spread (fewer than two drills).
     */
    range: RtoRange | null;
  };
  rpo: {
    /** Worst case for these settings: what is not yet in the repository when the primary is lost. */
    worstCaseSeconds: number;
    /** Why, in one line. */
    basis: string;
  };
  /** Figures the estimate used (cite them). */
  figures: FigureId[];
}

const MB = 1e6;

/** Pure: the estimate for `input` with `figures` (default: the figures in use). */
export function estimateSelfManaged(
  input: SelfManagedInput,
  figures: Record<FigureId, Figure> = FIGURES,
): SelfManagedEstimate {
  const f = (id: FigureId) => figures[id].value;
  const decision = input.decisionSeconds ?? 0;
  const overhead = f("selfManagedRecoveryOverhead") + input.databaseBytes / (f("selfManagedRecoveryOverheadRate") * MB);
  const restore = f("selfManagedRestoreFixed") + input.backupBytes / (f("selfManagedRestoreRate") * MB);
  const redo = input.walBytes / (f("selfManagedRedoRate") * MB);
  const verify = f("selfManagedVerifyFixed") + input.databaseBytes / (f("selfManagedVerifyRate") * MB);
  const ready = decision + overhead + restore + redo;
  const used: FigureId[] = [
    "selfManagedRecoveryOverhead",
    "selfManagedRecoveryOverheadRate",
    "selfManagedRestoreFixed",
    "selfManagedRestoreRate",
    "selfManagedRedoRate",
    "selfManagedVerifyFixed",
    "selfManagedVerifyRate",
  ];
  let worst: number;
  let basis: string;
  if (input.streaming === "pg_receivewal") {
    worst = f("selfManagedStreamLag");
    basis = `WAL streamed continuously (pg_receivewal): what it has not received, ${worst} s`;
    used.push("selfManagedStreamLag");
  } else {
    const segmentBytes = f("walSegmentSize") * 1024 ** 2;
    const walRate = input.walBytesPerSecond ?? f("selfManagedWalRate") * MB;
    const rate = `${(walRate / MB).toPrecision(3)} MB/s${input.walBytesPerSecond === undefined ? "" : " (measured now)"}`;
    const fill = segmentBytes / walRate;
    const push = f("selfManagedArchivePush");
    const cycle = Math.min(input.archiveTimeoutSeconds, fill);
    worst = cycle + push;
    basis =
      fill < input.archiveTimeoutSeconds
        ? `a ${f("walSegmentSize")} MiB segment fills in ${fill.toFixed(0)} s at ${rate} of WAL (before archive_timeout ${input.archiveTimeoutSeconds} s), + ${push} s archive-push`
        : `archive_timeout ${input.archiveTimeoutSeconds} s (a segment would take ${fill.toFixed(0)} s to fill at ${rate}), + ${push} s archive-push`;
    used.push(
      "walSegmentSize",
      ...(input.walBytesPerSecond === undefined ? (["selfManagedWalRate"] as const) : []),
      "selfManagedArchivePush",
    );
  }
  const r = (x: number) => Math.round(x * 100) / 100;
  // The decision is a human's, not a drill's: the range spans the recovery after it.
  const range = rtoRange(ready + verify - decision, input.spread ?? null, input.loadPerCore ?? null);
  return {
    rto: {
      readyForWritesSeconds: r(ready),
      verifiedSeconds: r(ready + verify),
      phases: { decision: r(decision), overhead: r(overhead), restore: r(restore), redo: r(redo), verify: r(verify) },
      range: range && {
        ...range,
        seconds: r(range.seconds + decision),
        low: r(range.low + decision),
        high: r(range.high + decision),
      },
    },
    rpo: { worstCaseSeconds: r(worst), basis },
    figures: used,
  };
}

/**
 * Pure: the data a crash loses at this moment, predicted from the archiver's own account: what
 * lies after the newest segment in the repository (switched when it was archived, less the push).
 * `lastArchivedAt` null: nothing archived since `sinceAt` (the base backup's end), so all of it.
 */
export function predictedCrashLossSeconds(o: {
  now: Date;
  lastArchivedAt: Date | null;
  sinceAt: Date;
  archivePushSeconds: number;
}): number {
  const archivedUpTo =
    o.lastArchivedAt && o.lastArchivedAt > o.sinceAt
      ? new Date(o.lastArchivedAt.getTime() - o.archivePushSeconds * 1000)
      : o.sinceAt;
  return Math.max(0, (o.now.getTime() - Math.max(archivedUpTo.getTime(), o.sinceAt.getTime())) / 1000);
}

/** What the posture report knows of the self-managed path for a stack: its config. */
export interface SelfManagedPostureInput {
  /** The declared database's allocated storage: an upper bound of what is restored and verified. */
  databaseGiB: number;
  /** How often a base backup is taken (the WAL replayed accrues in between). */
  baseBackupIntervalMinutes: number;
  archiveTimeoutSeconds: number;
  streaming: Streaming;
}

export interface SelfManagedPosture {
  description: string;
  inputs: SelfManagedPostureInput & { walGiB: number };
  /** Incident → ready for writes / verified, failover decision included. */
  readyForWritesMinutes: number;
  rtoMinutes: number;
  /** The RTO as a range from the calibration drills' spread (at their middle load), when there is one. */
  rtoRangeMinutes: { estimate: number; low: number; high: number; basis: string } | null;
  rpoMinutes: number;
  rpoBasis: string;
  phasesMinutes: SelfManagedEstimate["rto"]["phases"];
  figures: FigureId[];
}

/** Pure: the self-managed path for the declared size, WAL of a whole base-backup interval at the measured rate. */
export function selfManagedPosture(
  input: SelfManagedPostureInput,
  figures: Record<FigureId, Figure> = FIGURES,
  spread: RtoSpread | null = null,
): SelfManagedPosture {
  const bytes = input.databaseGiB * 1024 ** 3;
  const walBytes = figures.selfManagedWalRate.value * MB * input.baseBackupIntervalMinutes * 60;
  const decision = figures.failoverDecision.value * 60;
  const e = estimateSelfManaged(
    {
      backupBytes: bytes,
      databaseBytes: bytes,
      walBytes,
      archiveTimeoutSeconds: input.archiveTimeoutSeconds,
      streaming: input.streaming,
      decisionSeconds: decision,
      spread,
    },
    figures,
  );
  const min = (s: number) => Math.round((s / 60) * 10) / 10;
  return {
    description: `pgBackRest restore of a ${input.databaseGiB} GiB database, replay of ${(walBytes / 1024 ** 3).toFixed(1)} GiB of WAL (a base backup every ${input.baseBackupIntervalMinutes} min at ${figures.selfManagedWalRate.value} MB/s), verify-backup, after the failover decision`,
    inputs: { ...input, walGiB: Math.round((walBytes / 1024 ** 3) * 100) / 100 },
    readyForWritesMinutes: min(e.rto.readyForWritesSeconds),
    rtoMinutes: min(e.rto.verifiedSeconds),
    rtoRangeMinutes: e.rto.range
      ? {
          estimate: min(e.rto.range.seconds),
          low: min(e.rto.range.low),
          high: min(e.rto.range.high),
          basis: e.rto.range.basis,
        }
      : null,
    rpoMinutes: Math.round((e.rpo.worstCaseSeconds / 60) * 100) / 100,
    rpoBasis: e.rpo.basis,
    phasesMinutes: Object.fromEntries(
      Object.entries(e.rto.phases).map(([k, v]) => [k, min(v)]),
    ) as SelfManagedEstimate["rto"]["phases"],
    figures: ["failoverDecision", ...e.figures],
  };
}
