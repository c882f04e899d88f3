/** The drill's report: its JSON shape and its Markdown rendering (pure). */
import { existsSync, readFileSync } from "node:fs";

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

export interface DrillReport {
  reportVersion: 1;
  runId: string;
  scale: number;
  disaster: string;
  startedAt: string;
  finishedAt: string;
  verdict: "objectives_met" | "objectives_missed" | "failed" | "interrupted";
  /** The primary database's tier objective, from the stack config. */
  objective: { system: string; tier: string; rtoMinutes: number; rpoMinutes: number } | null;
  targetTime: string | null;
  incidentAt: string | null;
  /** Incident → recovered and verified. */
  rto: { achievedSeconds: number; objectiveMinutes: number; met: boolean } | null;
  /** T → incident: how far before the incident the recovered data reaches. */
  rpo: { achievedSeconds: number; objectiveMinutes: number; met: boolean } | null;
  rows: {
    committedUpToT: number;
    committedAfterT: number;
    recovered: number;
    missing: number[];
    unexpected: number[];
    ok: boolean;
  } | null;
  verification: { logicalBackup: VerificationSummary | null; recoveredDatabase: VerificationSummary | null };
  pitr: {
    runId: string | null;
    verdict: string | null;
    reportMarkdown: string | null;
    rto: unknown;
    rpo: unknown;
  } | null;
  phases: PhaseRecord[];
  failure: string | null;
  kept: Record<string, string> | null;
  /** Temp directories of the throwaway servers (removed at the end unless --keep). */
  workDirs: string[];
}

const VERDICT_LINE: Record<DrillReport["verdict"], string> = {
  objectives_met: "PASSED: recovered, verified, RTO and RPO within the objective",
  objectives_missed: "RECOVERED but an objective was missed",
  failed: "FAILED",
  interrupted: "INTERRUPTED",
};

const fmt = (s: number) => (s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

/** Pure (apart from embedding the point-in-time-restore report when its file exists). */
export function renderDrillMarkdown(r: DrillReport, pitrReportPath: string | null): string {
  const lines = [`# Recovery drill ${r.runId}: ${VERDICT_LINE[r.verdict]}`, ""];
  if (r.failure) lines.push(`**Failure:** ${r.failure}`, "");
  lines.push(
    `Scale ${r.scale}, disaster \`${r.disaster}\`, target time T = ${r.targetTime ?? "-"}, incident at ${r.incidentAt ?? "-"}.`,
    "",
  );
  if (r.objective) {
    lines.push(
      `| objective (${r.objective.system}, tier ${r.objective.tier}) | target | achieved | met |`,
      "|---|---|---|---|",
      `| RTO (incident → recovered and verified) | ${r.objective.rtoMinutes} min | ${r.rto ? fmt(r.rto.achievedSeconds) : "-"} | ${r.rto ? (r.rto.met ? "yes" : "**no**") : "-"} |`,
      `| RPO (recovered data reaches T; incident − T) | ${r.objective.rpoMinutes} min | ${r.rpo ? fmt(r.rpo.achievedSeconds) : "-"} | ${r.rpo ? (r.rpo.met ? "yes" : "**no**") : "-"} |`,
      "",
    );
  }
  if (r.rows) {
    lines.push(
      `Rows: ${r.rows.recovered} of ${r.rows.committedUpToT} tickets committed up to T are back; ${r.rows.unexpected.length} of ${r.rows.committedAfterT} committed after T are present (must be 0); missing: ${r.rows.missing.length}.`,
      "",
    );
  }
  const v = r.verification;
  lines.push(
    `Verification: logical backup in a scratch database ${v.logicalBackup ? (v.logicalBackup.ok ? "passed" : "**FAILED**") : "not run"}${v.logicalBackup?.report ? ` ([report](${v.logicalBackup.report}))` : ""}; ` +
      `recovered database ${v.recoveredDatabase ? (v.recoveredDatabase.ok ? "passed" : "**FAILED**") : "not run"}${v.recoveredDatabase?.report ? ` ([report](${v.recoveredDatabase.report}))` : ""}.`,
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
