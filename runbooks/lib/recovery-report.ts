/**
 * The final recovery report: JSON (schema: report.schema.json) and Markdown with a Mermaid
 * gantt timeline that renders on GitHub.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JournalData } from "./journal.ts";
import type { RecoveryTracker, RtoStatus } from "./tracker.ts";
import type { Tier } from "../../contract/objectives.ts";
import type { StepRef } from "./types.ts";

export const REPORT_SCHEMA_VERSION = 1;

export type Verdict = "objectives_met" | "objectives_missed" | "failed" | "stopped" | "interrupted";

export interface ReportStep {
  id: string;
  title: string;
  status: "succeeded" | "skipped" | "failed" | "running" | "not_started";
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempts: number;
  /** A gate re-checked right before the step it gates: how many times, the last when. */
  rechecks?: number;
  checkedAt?: string;
  note?: string;
  error?: string;
  outputs?: Record<string, unknown>;
}

export interface Report {
  schemaVersion: 1;
  runId: string;
  runbook: string;
  stack: string;
  region: string;
  system: string;
  tier: Tier;
  objective: { rtoMinutes: number; rpoMinutes: number };
  incidentAt: string;
  startedAt: string;
  finishedAt: string;
  status: "succeeded" | "failed" | "stopped" | "interrupted";
  verdict: Verdict;
  /**
   * What qualifies the verdict, from the steps' results: a step returns `caveat` (one line) for
   * something it could not do that the run still did without, e.g. "primary not fenced: …".
   */
  caveats?: string[];
  rto: { achievedMinutes: number; objectiveMinutes: number; met: boolean; status: RtoStatus };
  rpo: {
    recoveryPointAt: string | null;
    source: string | null;
    achievedMinutes: number | null;
    objectiveMinutes: number;
    met: boolean | null;
  };
  steps: ReportStep[];
  milestones: RecoveryTracker["milestones"];
  nextSteps: string[];
  checklist: string[];
  /**
   * How the run ended badly. `resumeCommand` is null when a resume cannot help: a refusal before
   * any change (start a new run with corrected input: `newRunCommand`), or a run taken over by
   * another machine.
   */
  failure: {
    stepId: string | null;
    message: string;
    resumeCommand: string | null;
    newRunCommand?: string;
    /** Traffic-moving or destructive steps that finished before the run stopped: they stay in effect. */
    inEffect?: string[];
  } | null;
  /** Where the run's journal is: always locally; `shared` = the copy another machine can resume from. */
  journal?: JournalLocation;
}

export interface JournalLocation {
  local: string;
  /** The shared copy (store and key), or null when the run kept its journal locally only. */
  shared: string | null;
  /** Why there is no (current) shared copy. */
  note: string | null;
  /**
   * Object versions this run wrote to the shared store before the report (each journal copy, lock
   * write and report is one S3 version); the report copy and the lock's release add two more.
   */
  versionsWritten?: { journal: number; lock: number; report: number; total: number };
}

export interface BuildReportInput {
  journal: JournalData;
  stepOrder: { id: string; title: string }[];
  tracker: RecoveryTracker;
  stack: string;
  region: string;
  finishedAt: Date;
  status: Report["status"];
  nextSteps: string[];
  checklist: string[];
  failure: Report["failure"];
  journalLocation?: JournalLocation;
}

/** A finished step's result as a report recorded it, typed by the step's handle (undefined if it recorded none). */
export function resultIn<R extends object>(report: Report | undefined, step: StepRef<R>): R | undefined {
  return report?.steps.find((s) => s.id === step.id)?.outputs as R | undefined;
}

export function buildReport(input: BuildReportInput): Report {
  const { journal, tracker, finishedAt } = input;
  const achieved = tracker.achieved(finishedAt);
  const steps: ReportStep[] = input.stepOrder.map(({ id, title }) => {
    const rec = journal.steps[id];
    if (!rec)
      return { id, title, status: "not_started", startedAt: null, endedAt: null, durationMs: null, attempts: 0 };
    const durationMs = rec.endedAt ? Math.max(0, Date.parse(rec.endedAt) - Date.parse(rec.startedAt)) : null;
    return {
      id,
      title,
      status: rec.status,
      startedAt: rec.startedAt,
      endedAt: rec.endedAt ?? null,
      durationMs,
      attempts: rec.attempts,
      ...(rec.rechecks ? { rechecks: rec.rechecks, checkedAt: rec.checkedAt! } : {}),
      ...(rec.note ? { note: rec.note } : {}),
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.outputs && Object.keys(rec.outputs).length ? { outputs: rec.outputs } : {}),
    };
  });
  const met = achieved.rto.met && achieved.rpo.met !== false;
  const caveats = steps.flatMap((s) =>
    typeof s.outputs?.caveat === "string" && s.outputs.caveat ? [s.outputs.caveat] : [],
  );
  const verdict: Verdict = input.status === "succeeded" ? (met ? "objectives_met" : "objectives_missed") : input.status;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    runId: journal.runId,
    runbook: journal.runbook,
    stack: input.stack,
    region: input.region,
    system: tracker.objective.system,
    tier: tracker.objective.tier,
    objective: { rtoMinutes: tracker.objective.rtoMinutes, rpoMinutes: tracker.objective.rpoMinutes },
    incidentAt: tracker.incidentAt.toISOString(),
    startedAt: journal.startedAt,
    finishedAt: finishedAt.toISOString(),
    status: input.status,
    verdict,
    ...(caveats.length ? { caveats } : {}),
    rto: { ...achieved.rto, status: tracker.status(finishedAt).status },
    rpo: achieved.rpo,
    steps,
    milestones: tracker.milestones,
    nextSteps: input.nextSteps,
    checklist: input.checklist,
    failure: input.failure,
    ...(input.journalLocation ? { journal: input.journalLocation } : {}),
  };
}

/** Mermaid task names may not contain `:` or `#`, and `;` ends a statement. */
const mermaidText = (s: string) => s.replace(/[:#;]/g, " ").replace(/\s+/g, " ").trim();

/** A Mermaid gantt block of the steps (timestamps in ms, so sub-second steps still show). */
export function mermaidGantt(report: Report): string {
  const lines = [
    "```mermaid",
    "gantt",
    `    title ${mermaidText(`${report.runbook} ${report.runId}`)}`,
    "    dateFormat x",
    "    axisFormat %H:%M:%S",
    "    section Incident",
    `    Incident declared :milestone, incident, ${Date.parse(report.incidentAt)}, 0ms`,
    "    section Steps",
  ];
  for (const [i, step] of report.steps.entries()) {
    if (!step.startedAt) continue;
    const start = Date.parse(step.startedAt);
    const end = step.endedAt ? Math.max(Date.parse(step.endedAt), start + 1) : Date.parse(report.finishedAt);
    const tag = step.status === "failed" ? "crit, " : step.status === "running" ? "active, " : "done, ";
    lines.push(`    ${mermaidText(step.title)} :${tag}s${i}, ${start}, ${end}`);
  }
  lines.push("```");
  return lines.join("\n");
}

const fmtMin = (m: number | null) => (m === null ? "n/a" : `${m} min`);

export function renderMarkdown(report: Report): string {
  const verdictLine = {
    objectives_met: "Recovered within objectives",
    objectives_missed: "Recovered, but objectives MISSED",
    failed: "Recovery FAILED",
    stopped: "Stopped before a step that needs confirmation",
    interrupted: "Interrupted",
  }[report.verdict];
  const out = [
    `# ${report.runbook} — ${report.runId}`,
    "",
    `**Verdict: ${verdictLine}${(report.caveats ?? []).map((c) => ` — ${c.split(":")[0]!.toUpperCase()}`).join("")}** (\`${report.verdict}\`)`,
    ...(report.caveats ?? []).map((c) => `\n> ${c}`),
    "",
    "| | achieved | objective | met |",
    "|---|---|---|---|",
    `| RTO | ${fmtMin(report.rto.achievedMinutes)} | ${report.rto.objectiveMinutes} min | ${report.rto.met ? "yes" : "no"} |`,
    `| RPO | ${fmtMin(report.rpo.achievedMinutes)} | ${report.rpo.objectiveMinutes} min | ${report.rpo.met === null ? "n/a (no data restored)" : report.rpo.met ? "yes" : "no"} |`,
    "",
    `System \`${report.system}\` (tier ${report.tier}), stack \`${report.stack}\` (${report.region}). Incident at ${report.incidentAt}; run ${report.startedAt} → ${report.finishedAt}.`,
  ];
  if (report.rpo.recoveryPointAt)
    out.push(`Recovered data reaches ${report.rpo.recoveryPointAt} (${report.rpo.source}).`);
  if (report.failure)
    out.push(
      "",
      `**Failed at step \`${report.failure.stepId ?? "-"}\`:** ${report.failure.message}`,
      ...(report.failure.inEffect?.length
        ? ["", `**Already in effect (not undone):** ${report.failure.inEffect.join("; ")}.`]
        : []),
      "",
      report.failure.resumeCommand
        ? `Resume: \`${report.failure.resumeCommand}\``
        : report.failure.newRunCommand
          ? `Nothing was changed; a resume would repeat this. Start a new run with corrected input: \`${report.failure.newRunCommand} …\``
          : "Do not resume this run here.",
    );
  if (report.journal)
    out.push(
      "",
      report.journal.shared
        ? `Journal: \`${report.journal.local}\`, shared copy ${report.journal.shared} (resumable from another machine).`
        : `Journal: \`${report.journal.local}\` only (local: no run lock, not resumable from another machine)${report.journal.note ? ` — ${report.journal.note}` : ""}.`,
    );
  const v = report.journal?.versionsWritten;
  if (v)
    out.push(
      "",
      `Shared store: this run wrote ${v.total} object version(s) before this report (journal ${v.journal}, run lock ${v.lock}, reports ${v.report}); copying this report and releasing the lock add 2. Replaced versions expire by the journal bucket's lifecycle.`,
    );
  out.push("", "## Timeline", "", mermaidGantt(report), "", "| step | status | duration | note |", "|---|---|---|---|");
  for (const s of report.steps) {
    out.push(
      `| ${s.title} | ${s.status} | ${s.durationMs === null ? "-" : `${(s.durationMs / 1000).toFixed(1)} s`} | ${(s.error ?? s.note ?? "").replace(/\|/g, "\\|")} |`,
    );
  }
  if (report.milestones.length) {
    out.push("", "## Milestones", "");
    for (const m of report.milestones) out.push(`- ${m.at} (+${m.elapsedMinutes} min) ${m.description}`);
  }
  if (report.nextSteps.length) out.push("", "## Next steps", "", ...report.nextSteps.map((s, i) => `${i + 1}. ${s}`));
  if (report.checklist.length)
    out.push("", "## Post-recovery checklist", "", ...report.checklist.map((s) => `- [ ] ${s}`));
  return out.join("\n") + "\n";
}

/** Writes report.json and report.md next to the journal; returns their paths. */
export function writeReport(dir: string, report: Report): { json: string; markdown: string } {
  const json = join(dir, "report.json");
  const markdown = join(dir, "report.md");
  writeFileSync(json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(markdown, renderMarkdown(report), { mode: 0o600 });
  return { json, markdown };
}

/** The report a finished run wrote (for a `--resume` of a run that already succeeded). */
export function readReport(dir: string): { report: Report; paths: { json: string; markdown: string } } {
  const json = join(dir, "report.json");
  return {
    report: JSON.parse(readFileSync(json, "utf8")) as Report,
    paths: { json, markdown: join(dir, "report.md") },
  };
}
