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
import type { Report } from "./report.ts";

export interface Outcome {
  status: Report["status"];
  exitCode: ExitCode;
  failure: Report["failure"];
}

export function outcomeOf(error: unknown, journal: JournalData, resumeCommand: string): Outcome {
  if (error === undefined) return { status: "succeeded", exitCode: EXIT.succeeded, failure: null };
  if (error instanceof ConfirmationError)
    return {
      status: "stopped",
      exitCode: EXIT.stopped,
      failure: { stepId: error.stepId, message: error.message, resumeCommand },
    };
  if (error instanceof InterruptedError) {
    const stepId = /during step (\S+)$/.exec(error.message)?.[1] ?? null;
    return {
      status: "interrupted",
      exitCode: EXIT.interrupted,
      failure: { stepId, message: error.message, resumeCommand },
    };
  }
  const stepId =
    error instanceof StepFailedError
      ? error.stepId
      : (Object.entries(journal.steps).find(([, r]) => r.status === "failed")?.[0] ?? null);
  return {
    status: "failed",
    exitCode: error instanceof BadInputError ? EXIT.badInput : EXIT.failed,
    failure: { stepId, message: errorMessage(error instanceof StepFailedError ? error.cause : error), resumeCommand },
  };
}

export function summaryLine(runbook: string, report: Report): string {
  const f = report.failure;
  if (report.status === "succeeded") {
    const verdict =
      report.verdict === "objectives_met" ? "succeeded within objectives" : "succeeded but MISSED objectives";
    const caveats = (report.caveats ?? []).map((c) => ` — ${c.split(":")[0]!.toUpperCase()}`).join("");
    return `${runbook} ${verdict}${caveats}: RTO ${report.rto.achievedMinutes}/${report.rto.objectiveMinutes} min, RPO ${report.rpo.achievedMinutes ?? "n/a"}/${report.rpo.objectiveMinutes} min`;
  }
  if (report.status === "failed")
    return `${runbook} FAILED${f?.stepId ? ` at step "${f.stepId}"` : ""}: ${f?.message}. Fix the cause, then resume: ${f?.resumeCommand}`;
  return `${runbook} ${report.status}: ${f?.message}`;
}
