/**
 * Runs a runbook: dependency order (independent steps side by side), dry-run, confirmation,
 * journal and resume, tracker, notifications, report.
 */
import pLimit from "p-limit";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { ClientFactory } from "./aws.ts";
import { createContext } from "./context.ts";
import { dryRun, flagsOf, type PlanEntry } from "./dry-run.ts";
import {
  BadInputError,
  ConfirmationError,
  EXIT,
  InterruptedError,
  StepFailedError,
  errorMessage,
  type ExitCode,
} from "./errors.ts";
import { Journal, newRunId, type OutputsSource, type RunStatus } from "./journal.ts";
import { notifyAll, type NotificationKind, type NotificationSink } from "./notify.ts";
import { outcomeOf, summaryLine } from "./outcome.ts";
import { resolveDependencies } from "./plan.ts";
import type { Printer } from "./printer.ts";
import { buildReport, readReport, writeReport, type Report } from "./report.ts";
import { runGraph } from "./schedule.ts";
import { RecoveryTracker, objectiveFromOutputs } from "./tracker.ts";
import type { AnyStep, RawOptions, Runbook, StepOutputs } from "./types.ts";

export type { PlanEntry } from "./dry-run.ts";

export interface ExecuteOptions<O> {
  runbook: Runbook<O>;
  options: O;
  rawOptions: RawOptions;
  outputs: StackOutputs;
  peer: StackOutputs | undefined;
  source: OutputsSource;
  stateDir: string;
  dryRun: boolean;
  yes: boolean;
  force: boolean;
  incidentAt?: Date;
  /** A new run's id (default generated). */
  runId?: string;
  /** Continue this journal instead of starting a run. */
  resume?: Journal;
  clients: ClientFactory;
  sinks: NotificationSink[];
  /** Asks a yes/no question on a terminal; undefined when there is no terminal. */
  ask: ((question: string) => Promise<boolean>) | undefined;
  printer: Printer;
  signal?: AbortSignal;
  /** How to resume, for messages, e.g. `npx tsx runbooks/x.ts`. */
  command: string;
  now?: () => Date;
}

export interface ExecuteResult {
  exitCode: ExitCode;
  runId: string;
  status: RunStatus | "planned";
  message: string;
  report?: Report;
  reportPaths?: { json: string; markdown: string };
  journalPath?: string;
  plan?: PlanEntry[];
}

export async function execute<O>(opts: ExecuteOptions<O>): Promise<ExecuteResult> {
  const { runbook, printer } = opts;
  const now = opts.now ?? (() => new Date());
  const steps = typeof runbook.steps === "function" ? runbook.steps(opts.options, opts.outputs) : runbook.steps;
  const deps = resolveDependencies(steps);
  const system = typeof runbook.system === "function" ? runbook.system(opts.options) : runbook.system;
  let objective;
  try {
    objective = objectiveFromOutputs(system, opts.outputs);
  } catch (error) {
    throw new BadInputError(errorMessage(error));
  }
  const startedAt = opts.resume ? new Date(opts.resume.data.startedAt) : now();
  const incidentAt = opts.resume ? new Date(opts.resume.data.incidentAt) : (opts.incidentAt ?? startedAt);
  if (incidentAt.getTime() > startedAt.getTime() + 60_000) {
    throw new BadInputError(
      `--incident-at ${incidentAt.toISOString()} is in the future: expected a time at or before now`,
    );
  }
  const runId = opts.resume?.data.runId ?? opts.runId ?? newRunId(runbook.name, startedAt);
  const tracker = new RecoveryTracker(objective, incidentAt, opts.resume?.data.tracker, now);
  const controller = new AbortController();
  opts.signal?.addEventListener("abort", () => controller.abort(opts.signal?.reason), { once: true });
  const { ctx, applyOutputs, forStep } = createContext({
    ...opts,
    runId,
    incidentAt,
    startedAt,
    tracker,
    signal: controller.signal,
  });

  if (opts.dryRun)
    return { runId, status: "planned", ...(await dryRun(steps, deps, ctx, forStep, applyOutputs, printer)) };

  const journal =
    opts.resume ??
    Journal.create(opts.stateDir, {
      runId,
      runbook: runbook.name,
      source: opts.source,
      options: opts.rawOptions,
      force: opts.force,
      incidentAt: incidentAt.toISOString(),
      startedAt: startedAt.toISOString(),
    });
  if (opts.resume?.data.status === "succeeded") {
    // Nothing to do: keep the original report (its RTO must not grow with the time since).
    const { report, paths } = readReport(journal.dir);
    printer.info(`run ${runId} already succeeded at ${journal.data.finishedAt}; nothing to do`);
    return {
      exitCode: report.verdict === "objectives_met" ? EXIT.succeeded : EXIT.objectivesMissed,
      runId,
      status: "succeeded",
      message: `${runbook.name} run ${runId} had already succeeded: ${summaryLine(runbook.name, report)}`,
      report,
      reportPaths: paths,
      journalPath: journal.path,
    };
  }
  if (opts.resume) {
    journal.data.status = "running";
    for (const step of steps)
      if (journal.isFinished(step.id)) applyOutputs(step.id, journal.step(step.id)!.outputs ?? {});
    journal.save();
  }
  const resumeCommand = `${opts.command} --resume ${runId} --state-dir ${opts.stateDir}`;
  const notify = (kind: NotificationKind, message: string) =>
    notifyAll(
      opts.sinks,
      {
        kind,
        runbook: runbook.name,
        runId,
        stack: opts.outputs.stack,
        subject: `[eventchain-dr] ${runbook.name} ${kind.replace("_", " ")} on ${opts.outputs.stack} (run ${runId})`,
        message,
      },
      ctx.log,
    );

  await notify(
    "started",
    `${runbook.summary}\nSystem ${objective.system} (tier ${objective.tier}): RTO ${objective.rtoMinutes} min, RPO ${objective.rpoMinutes} min.\nIncident at ${incidentAt.toISOString()}; RTO deadline ${tracker.deadline.toISOString()}.${opts.resume ? "\nResumed run." : ""}`,
  );
  printer.info(
    `${opts.resume ? "Resuming" : "Starting"} ${runbook.name} run ${runId} on stack ${opts.outputs.stack}; journal ${journal.path}`,
  );

  // One question at a time, even when steps run side by side.
  const confirmLock = pLimit(1);
  const confirm = (step: AnyStep<O>) =>
    confirmLock(async () => {
      const what = step.destructive ? "is destructive" : "moves traffic";
      if (opts.yes) return printer.info(`step "${step.id}" ${what}: confirmed by --yes`);
      if (!opts.ask) {
        throw new ConfirmationError(
          `step "${step.id}" (${step.title}) ${what} and needs confirmation, but there is no terminal to ask: re-run with --yes to confirm, e.g. ${resumeCommand} --yes`,
          step.id,
        );
      }
      printer.planStep({
        id: step.id,
        title: step.title,
        dependsOn: deps.get(step.id)!,
        flags: flagsOf(step),
        actions: await step.describe(forStep(step.id, deps.get(step.id)!)),
      });
      if (!(await opts.ask(`Step "${step.title}" ${what}. Proceed? [y/N] `))) {
        throw new ConfirmationError(
          `step "${step.id}" was declined at the prompt; nothing after it ran. To continue later: ${resumeCommand}`,
          step.id,
        );
      }
    });

  const runOne = async (step: AnyStep<O>) => {
    const ctx = forStep(step.id, deps.get(step.id)!);
    if (journal.isFinished(step.id))
      return printer.step(step.id, step.title, "skipped", "finished earlier in this run", tracker.status());
    if (controller.signal.aborted) throw new InterruptedError(`interrupted before step ${step.id}`);
    const done = step.isDone ? await step.isDone(ctx) : false;
    if (done) {
      const outputs: StepOutputs = done;
      if (step.verify) await step.verify(ctx, outputs);
      applyOutputs(step.id, outputs);
      journal.skipped(step.id, step.title, outputs, "already done", now());
      tracker.milestone(step.milestone ?? step.id, `${step.title} (already done)`);
      journal.setTracker(tracker.state());
      return printer.step(step.id, step.title, "skipped", "already done", tracker.status());
    }
    if (step.destructive || step.movesTraffic) await confirm(step);
    if (controller.signal.aborted) throw new InterruptedError(`interrupted before step ${step.id}`);
    journal.started(step.id, step.title, now());
    printer.step(step.id, step.title, "started", undefined, tracker.status());
    try {
      const outputs: StepOutputs = await step.run(ctx);
      if (step.verify) await step.verify(ctx, outputs);
      applyOutputs(step.id, outputs);
      tracker.milestone(step.milestone ?? step.id, step.title);
      journal.setTracker(tracker.state());
      journal.finished(step.id, "succeeded", outputs, undefined, now());
      printer.step(step.id, step.title, "succeeded", undefined, tracker.status());
    } catch (error) {
      if (controller.signal.aborted && !(error instanceof BadInputError)) {
        // A wait cut short by SIGINT/SIGTERM: the step is re-run (after its isDone) on --resume.
        journal.failed(step.id, `interrupted: ${errorMessage(error)}`, now());
        printer.step(step.id, step.title, "failed", "interrupted", tracker.status());
        throw new InterruptedError(`interrupted during step ${step.id}`);
      }
      journal.failed(step.id, errorMessage(error), now());
      printer.step(step.id, step.title, "failed", errorMessage(error), tracker.status());
      throw error instanceof BadInputError ? error : new StepFailedError(step.id, error);
    }
  };

  const firstError = await runGraph(steps, deps, runOne, controller.signal);

  // Finish: journal, report, notification, exit code.
  const finishedAt = now();
  const outcome = outcomeOf(firstError, journal.data, resumeCommand);
  if (outcome.status === "succeeded") tracker.milestone("recovery_completed", "Recovery completed", finishedAt);
  journal.setTracker(tracker.state());
  journal.finish(outcome.status, finishedAt);
  const succeeded = outcome.status === "succeeded";
  const report = buildReport({
    journal: journal.data,
    stepOrder: steps.map((s) => ({ id: s.id, title: s.title })),
    tracker,
    stack: opts.outputs.stack,
    region: opts.outputs.region,
    finishedAt,
    status: outcome.status,
    nextSteps: succeeded && runbook.nextSteps ? runbook.nextSteps(ctx) : [],
    checklist: succeeded && runbook.checklist ? runbook.checklist(ctx) : [],
    failure: outcome.failure,
  });
  const exitCode = report.verdict === "objectives_missed" ? EXIT.objectivesMissed : outcome.exitCode;
  const reportPaths = writeReport(journal.dir, report);
  const message = summaryLine(runbook.name, report);
  const kind: NotificationKind = succeeded
    ? report.verdict === "objectives_met"
      ? "succeeded"
      : "objectives_missed"
    : outcome.status === "stopped"
      ? "stopped"
      : "failed";
  await notify(kind, `${message}\nReport: ${reportPaths.markdown}`);
  return { exitCode, runId, status: outcome.status, message, report, reportPaths, journalPath: journal.path };
}
