/** Maps how a run ended to its status, exit code, failure record and one-line summary. */
import {
  BadInputError,
  ConfirmationError,
  EXIT,
  InterruptedError,
  StepFailedError,
  errorMessage,
  type ExitCode,
} from "./errors.ts";
import type { JournalData } from "./journal.ts";
import { PreflightError } from "./preflight-gate.ts";
import type { Report } from "./recovery-report.ts";
import { LockLostError } from "./run-lock.ts";

export interface Outcome {
  status: Report["status"];
  exitCode: ExitCode;
  failure: Report["failure"];
}

export interface OutcomeContext {
  /** Ids of the steps that change nothing (a refusal after only these changed nothing). */
  readOnly: ReadonlySet<string>;
  /** How to start a new run of the same runbook on the same stack (for bad input). */
  newRunCommand: string;
  /** The steps that move traffic or are destructive: any that finished stays in effect when a run stops. */
  inEffect?: { id: string; title: string }[];
}

/** The traffic-moving or destructive steps that finished (succeeded or found done): nothing undoes them. */
export function stepsInEffect(journal: JournalData, candidates: OutcomeContext["inEffect"] = []): string[] {
  return candidates
    .filter((s) => ["succeeded", "skipped"].includes(journal.steps[s.id]?.status ?? ""))
    .map((s) => `${s.title} (${s.id})`);
}

/** Steps that may have changed something: every started step that is not read-only. */
export function changedSteps(journal: JournalData, readOnly: ReadonlySet<string>): string[] {
  return Object.entries(journal.steps)
    .filter(([id, r]) => !readOnly.has(id) && r.attempts > 0)
    .map(([id]) => id);
}

export function outcomeOf(
  error: unknown,
  journal: JournalData,
  resumeCommand: string,
  context: OutcomeContext = { readOnly: new Set(), newRunCommand: "" },
): Outcome {
  if (error === undefined) return { status: "succeeded", exitCode: EXIT.succeeded, failure: null };
  const done = stepsInEffect(journal, context.inEffect);
  const inEffect = done.length ? { inEffect: done } : {};
  if (error instanceof ConfirmationError)
    return {
      status: "stopped",
      exitCode: EXIT.stopped,
      failure: { stepId: error.stepId, message: error.message, resumeCommand, ...inEffect },
    };
  if (error instanceof LockLostError) {
    const running = Object.entries(journal.steps).find(([, r]) => r.error?.startsWith("interrupted"))?.[0] ?? null;
    return {
      status: "interrupted",
      exitCode: EXIT.interrupted,
      failure: { stepId: running, message: error.message, resumeCommand: null, ...inEffect },
    };
  }
  if (error instanceof InterruptedError) {
    const stepId = /during step (\S+)$/.exec(error.message)?.[1] ?? null;
    return {
      status: "interrupted",
      exitCode: EXIT.interrupted,
      failure: { stepId, message: error.message, resumeCommand, ...inEffect },
    };
  }
  const stepId =
    error instanceof StepFailedError
      ? error.stepId
      : (Object.entries(journal.steps).find(([, r]) => r.status === "failed")?.[0] ?? null);
  // A preflight refusal keeps its list, one gap a line (each gap is one line already); anything else is one line.
  const message =
    error instanceof PreflightError
      ? error.message
      : errorMessage(error instanceof StepFailedError ? error.cause : error);
  // A BadInputError is thrown before its step changes anything (errors.ts): only other steps count.
  if (error instanceof BadInputError && changedSteps(journal, context.readOnly).every((id) => id === stepId)) {
    // A refusal before any change: a resume would read the same input and refuse again.
    return {
      status: "failed",
      exitCode: EXIT.badInput,
      failure: { stepId, message, resumeCommand: null, newRunCommand: context.newRunCommand },
    };
  }
  return { status: "failed", exitCode: EXIT.failed, failure: { stepId, message, resumeCommand, ...inEffect } };
}

export function summaryLine(runbook: string, report: Report): string {
  const f = report.failure && { ...report.failure, message: report.failure.message.replace(/\.$/, "") };
  if (report.status === "succeeded") {
    const verdict =
      report.verdict === "objectives_met" ? "succeeded within objectives" : "succeeded but MISSED objectives";
    const caveats = (report.caveats ?? []).map((c) => ` — ${c.split(":")[0]!.toUpperCase()}`).join("");
    return `${runbook} ${verdict}${caveats}: RTO ${report.rto.achievedMinutes}/${report.rto.objectiveMinutes} min, RPO ${report.rpo.achievedMinutes ?? "n/a"}/${report.rpo.objectiveMinutes} min`;
  }
  if (report.status === "failed" && f && !f.resumeCommand)
    return refusalLine(runbook, f.stepId, f.message, f.newRunCommand);
  const already = f?.inEffect?.length ? ` ALREADY IN EFFECT (not undone): ${f.inEffect.join("; ")}.` : "";
  if (report.status === "failed")
    return `${runbook} FAILED${f?.stepId ? ` at step "${f.stepId}"` : ""}: ${f?.message}.${already} Fix the cause, then resume: ${f?.resumeCommand}`;
  return `${runbook} ${report.status}: ${f?.message}${already ? `.${already}` : ""}`;
}

/** The one line of a refusal before any change (a resume would read the same input and refuse again). */
export function refusalLine(runbook: string, stepId: string | null, message: string, newRunCommand?: string): string {
  return `${runbook} REFUSED${stepId ? ` at step "${stepId}"` : ""}: ${message.replace(/\.$/, "")}. Nothing was changed; a resume would repeat this. Correct the input and start a new run${newRunCommand ? `: ${newRunCommand} …` : ""}`;
}
