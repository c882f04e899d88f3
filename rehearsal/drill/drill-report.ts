/** The drill's report: its JSON shape (reportVersion 2) and its Markdown rendering (pure). */
import { existsSync, readFileSync } from "node:fs";
import type { MeasuredPhases } from "../../infra/posture/calibration.ts";
import type { DrillEstimate } from "./estimate.ts";
import type { BadDataOutcome, CrashOutcome } from "./data-outcome.ts";

export interface PhaseRecord {
  name: string;
  startedAt: string;
  seconds: number;
  ok: boolean;
  detail: string;
}

export interface VerificationSummary {
  ok: boolean;
  exitCode: number;
  report: string | null;
  message: string;
}

export type Scenario = "crash" | "bad-data";

export interface DrillReport {
  reportVersion: 2;
  runId: string;
  /** How it recovered (calibration counts drills of one method together). */
  recoveryMethod: string;
  scale: number;
  scenario: Scenario;
  /** The archive settings the drill ran with (the stack config's, unless overridden). */
  wal: { archiveTimeoutSeconds: number; streaming: "off" | "pg_receivewal"; archiveDelaySeconds: number | null };
  writers: { count: number; commitsPerSecond: number; seconds: number };
  /** The machine when the disaster struck: a shared one's load explains much of the spread between runs. */
  machine: { cpus: number; loadAverage: number[] | null };
  startedAt: string;
  finishedAt: string;
  verdict: "objectives_met" | "objectives_missed" | "failed" | "interrupted";
  /** The primary database's tier objective, from the stack config (or a stricter one given in-process). */
  objective: { system: string; tier: string; rtoMinutes: number; rpoMinutes: number } | null;
  incidentAt: string | null;
  /** Printed before the disaster. */
  estimate: DrillEstimate | null;
  /** Incident → ready for writes, incident → verified (the RTO), against the estimate. */
  rto: {
    readyForWritesSeconds: number;
    achievedSeconds: number;
    objectiveMinutes: number;
    met: boolean;
    estimateReadyForWritesSeconds: number | null;
    estimateSeconds: number | null;
    ratio: number | null;
    /** The range printed before the disaster (the calibration drills' spread), null without one. */
    range: { seconds: number; low: number; high: number; basis: string } | null;
    /** Whether the achieved RTO fell inside that range. */
    inRange: boolean | null;
  } | null;
  /** The data lost, from the writers' acknowledgements, against the estimate. */
  rpo: {
    achievedSeconds: number;
    basis: string;
    objectiveMinutes: number;
    met: boolean;
    estimateSeconds: number | null;
    worstCaseSeconds: number | null;
    ratio: number | null;
  } | null;
  crash: CrashOutcome | null;
  badData: BadDataOutcome | null;
  /** What each phase took, by the tools' own accounts (what `--calibrate` records). */
  measured: {
    databaseBytes: number;
    backupBytes: number;
    commitsPerSecond: number | null;
    archivePushes: number;
    phases: MeasuredPhases;
  } | null;
  verification: { logicalBackup: VerificationSummary | null; recoveredDatabase: VerificationSummary | null };
  pitr: { runId: string | null; exitCode: number | null; verdict: string | null; reportMarkdown: string | null } | null;
  phases: PhaseRecord[];
  failure: string | null;
  kept: Record<string, string> | null;
  /** Temp directories of the throwaway servers (removed at the end unless --keep). */
  workDirs: string[];
}

const VERDICT_LINE: Record<DrillReport["verdict"], string> = {
  objectives_met: "PASSED: recovered, verified, RTO and RPO within the objective",
  objectives_missed: "RECOVERED and verified, but objectives missed",
  failed: "FAILED",
  interrupted: "INTERRUPTED",
};

/** Seconds as the report prints them. */
export const fmt = (s: number | null | undefined): string =>
  s === null || s === undefined
    ? "–"
    : s < 1
      ? `${(s * 1000).toFixed(0)} ms`
      : s < 120
        ? `${s.toFixed(1)} s`
        : `${(s / 60).toFixed(1)} min`;
const yes = (b: boolean) => (b ? "yes" : "**no**");
const ratioCell = (r: number | null) => (r === null ? "–" : `${r.toFixed(2)}`);
const n = (x: number) => x.toLocaleString("en-US");

function scenarioLine(r: DrillReport): string {
  const what =
    r.scenario === "crash"
      ? `crash without warning (the primary killed and its data directory deleted while ${r.writers.count} writers committed; no check, no forced WAL switch)`
      : "bad data (`DELETE FROM payments` without WHERE, committed while the writers sold; recovery to just before its transaction)";
  const wal =
    r.wal.streaming === "pg_receivewal"
      ? `archive_timeout ${r.wal.archiveTimeoutSeconds} s and WAL streamed by pg_receivewal`
      : `archive_timeout ${r.wal.archiveTimeoutSeconds} s, no streaming`;
  const delay = r.wal.archiveDelaySeconds ? `, archiving slowed by ${r.wal.archiveDelaySeconds} s per segment` : "";
  const load = r.machine.loadAverage
    ? `; load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(" / ")} on ${r.machine.cpus} cores`
    : "";
  return `Scenario: ${what}. WAL: ${wal}${delay}. Scale ${r.scale}; writers ${r.writers.count} at ${r.writers.commitsPerSecond} commits/s for ${r.writers.seconds} s. Incident at ${r.incidentAt ?? "–"}${load}.`;
}

function dataLine(r: DrillReport): string[] {
  if (r.crash) {
    const c = r.crash;
    return [
      `Data: ${n(c.acknowledged)} commits acknowledged to the writers; ${n(c.back)} back, **${n(c.lost)} lost**` +
        `${c.inFlightBack ? `; ${c.inFlightBack} in flight at the crash came back too (committed, never acknowledged)` : ""}. ` +
        `RPO: ${c.rpoBasis}.${c.problems.length ? ` **Problems:** ${c.problems.join("; ")}.` : ""}`,
      "",
    ];
  }
  if (r.badData) {
    const b = r.badData;
    return [
      `Data: \`${b.statement}\` (transaction ${b.xid}) removed ${n(b.paymentsBefore)} payments; ${n(b.paymentsBack)} are back, ` +
        `${b.missingBefore.length} sales from before it missing, ${b.presentAfter.length} from after it present (both must be 0); ` +
        `${n(b.commitsAfterStatement)} sales acknowledged after the statement are, by design, not in the recovered database. ` +
        `RPO: ${b.rpoBasis}.${b.problems.length ? ` **Problems:** ${b.problems.join("; ")}.` : ""}`,
      "",
    ];
  }
  return [];
}

function estimateLines(r: DrillReport): string[] {
  const e = r.estimate;
  if (!e) return [];
  const p = e.rto.phases;
  const kinds = new Map<string, string[]>();
  for (const f of e.figures) kinds.set(f.kind, [...(kinds.get(f.kind) ?? []), f.id]);
  const range = e.rto.range;
  return [
    `Estimate (printed before the disaster, from the figures in use): ready for writes ${fmt(e.rto.readyForWritesSeconds)} = overhead ${fmt(p.overhead)} + restore ${fmt(p.restore)} + redo ${fmt(p.redo)}; verified + ${fmt(p.verify)}. ` +
      (range
        ? `How sure: RTO (verified) ${fmt(range.low)}–${fmt(range.high)}, point ${fmt(range.seconds)}, from ${range.basis}. `
        : "How sure: no range yet (fewer than two calibration drills measured a whole recovery). ") +
      `Inputs: backup ${(e.inputs.backupBytes / 1e6).toFixed(1)} MB, database ${(e.inputs.databaseBytes / 1e6).toFixed(1)} MB, WAL since the base backup ${(e.inputs.walBytes / 1e6).toFixed(1)} MB. ` +
      `Figures: ${[...kinds].map(([k, ids]) => `${k} ${ids.join(", ")}`).join("; ")} (infra/posture/figures.ts, calibration.json).`,
    "",
  ];
}

function measuredLines(r: DrillReport): string[] {
  const m = r.measured;
  if (!m) return [];
  const p = m.phases;
  const rate = (x?: { bytes: number; seconds: number }) =>
    x ? ` (${(x.bytes / 1e6 / x.seconds).toFixed(0)} MB/s)` : "";
  const parts = [
    p.restore
      ? `pgBackRest restore ${fmt(p.restore.seconds)} for ${(p.restore.bytes / 1e6).toFixed(1)} MB${rate(p.restore)}`
      : null,
    p.redo
      ? `PostgreSQL's redo ${fmt(p.redo.seconds)} for ${(p.redo.bytes / 1e6).toFixed(1)} MB of WAL${rate(p.redo)}`
      : null,
    p.overhead ? `other recovery steps ${fmt(p.overhead.seconds)}` : null,
    p.verify
      ? `verification ${fmt(p.verify.seconds)} for ${(p.verify.bytes / 1e6).toFixed(1)} MB${rate(p.verify)}`
      : null,
    p.archivePush ? `archive-push median ${fmt(p.archivePush.seconds)} over ${m.archivePushes} segments` : null,
    p.walRate
      ? `WAL written ${(p.walRate.bytesPerSecond / 1e6).toFixed(2)} MB/s at ${m.commitsPerSecond?.toFixed(0) ?? "–"} commits/s`
      : null,
    p.streamLag ? `streaming lag (achieved RPO) ${fmt(p.streamLag.seconds)}` : null,
  ].filter(Boolean);
  return [
    `Measured (by the tools' own logs; \`npm run posture -- --calibrate\` records these): ${parts.join("; ")}.`,
    "",
  ];
}

/** Pure (apart from embedding the point-in-time-restore report when its file exists). */
export function renderDrillMarkdown(r: DrillReport, pitrReportPath: string | null): string {
  const lines = [`# Recovery drill ${r.runId}: ${VERDICT_LINE[r.verdict]}`, ""];
  if (r.failure) lines.push(`**Failure:** ${r.failure}`, "");
  lines.push(scenarioLine(r), "");
  if (r.objective) {
    const o = r.objective;
    lines.push(
      `| ${o.system}, tier ${o.tier} | estimate (before) | achieved | estimate ÷ achieved | objective | met |`,
      "|---|---|---|---|---|---|",
      `| RTO: incident → ready for writes | ${fmt(r.rto?.estimateReadyForWritesSeconds)} | ${fmt(r.rto?.readyForWritesSeconds)} | ${r.rto && r.rto.estimateReadyForWritesSeconds !== null ? ratioCell(r.rto.readyForWritesSeconds ? Math.round((r.rto.estimateReadyForWritesSeconds / r.rto.readyForWritesSeconds) * 100) / 100 : null) : "–"} | | |`,
      `| RTO: incident → verified | ${fmt(r.rto?.estimateSeconds)}${r.rto?.range ? ` (range ${fmt(r.rto.range.low)}–${fmt(r.rto.range.high)})` : ""} | ${fmt(r.rto?.achievedSeconds)}${r.rto?.inRange === false ? " **OUTSIDE the range**" : r.rto?.inRange ? " (inside the range)" : ""} | ${ratioCell(r.rto?.ratio ?? null)} | ${o.rtoMinutes} min | ${r.rto ? yes(r.rto.met) : "–"} |`,
      `| RPO: data lost | ${fmt(r.rpo?.estimateSeconds)}${r.rpo?.worstCaseSeconds !== null && r.rpo?.worstCaseSeconds !== undefined ? ` (worst case for these settings ${fmt(r.rpo.worstCaseSeconds)})` : ""} | ${fmt(r.rpo?.achievedSeconds)} | ${ratioCell(r.rpo?.ratio ?? null)} | ${o.rpoMinutes} min | ${r.rpo ? yes(r.rpo.met) : "–"} |`,
      "",
    );
  }
  lines.push(...dataLine(r), ...estimateLines(r), ...measuredLines(r));
  const v = r.verification;
  const verdictOf = (s: typeof v.logicalBackup) => (s ? (s.ok ? "passed" : "**FAILED**") : "not run");
  lines.push(
    `Verification: the logical backup in a scratch database (before the disaster) ${verdictOf(v.logicalBackup)}${v.logicalBackup?.report ? ` ([report](${v.logicalBackup.report}))` : ""}; ` +
      `the recovered database ${verdictOf(v.recoveredDatabase)}${v.recoveredDatabase?.report ? ` ([report](${v.recoveredDatabase.report}))` : ""}.`,
    "",
    "## Phases",
    "",
    "| phase | seconds | result | detail |",
    "|---|---|---|---|",
    ...r.phases.map(
      (p) =>
        `| ${p.name} | ${p.seconds.toFixed(1)} | ${p.ok ? "ok" : "**FAILED**"} | ${p.detail.replace(/\|/g, "\\|").replace(/\n/g, " ")} |`,
    ),
    "",
  );
  if (r.kept)
    lines.push("## Kept for inspection", "", ...Object.entries(r.kept).map(([k, x]) => `- ${k}: \`${x}\``), "");
  if (pitrReportPath && existsSync(pitrReportPath)) {
    const body = readFileSync(pitrReportPath, "utf8").replace(/^# /gm, "### ").replace(/^## /gm, "#### ");
    lines.push("## The point-in-time-restore runbook's recovery report", "", body);
  }
  return lines.join("\n") + "\n";
}
