/**
 * Runs a runbook's steps: dependency order (independent steps side by side), dry-run,
 * confirmation, journal and resume, tracker, notifications, report.
 */
import pLimit from "p-limit";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { ClientFactory } from "./aws.ts";
import { BadInputError, ConfirmationError, EXIT, InterruptedError, StepFailedError, errorMessage, type ExitCode } from "./errors.ts";
import { Journal, newRunId, type OutputsSource, type RunStatus } from "./journal.ts";
import { notifyAll, type NotificationKind, type NotificationSink } from "./notify.ts";
import { resolveDependencies } from "./plan.ts";
import { buildReport, writeReport, type Report } from "./report.ts";
import { RecoveryTracker, objectiveFromOutputs } from "./tracker.ts";
import type { Printer } from "./printer.ts";
import type { PlannedAction, RawOptions, RunContext, Runbook, Step, StepOutputs } from "./types.ts";

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

export interface PlanEntry {
  id: string;
  title: string;
  dependsOn: string[];
  flags: string[];
  actions: PlannedAction[];
  /** Read-only steps run under --dry-run; their outputs. */
  outputs?: StepOutputs;
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

const flagsOf = (s: Step<unknown>) => [s.readOnly && "read-only", s.destructive && "destructive", s.movesTraffic && "moves traffic"].filter(Boolean) as string[];

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
    throw new BadInputError(`--incident-at ${incidentAt.toISOString()} is in the future: expected a time at or before now`);
  }
  const runId = opts.resume?.data.runId ?? opts.runId ?? newRunId(runbook.name, startedAt);
  const tracker = new RecoveryTracker(objective, incidentAt, opts.resume?.data.tracker, now);
  const results = new Map<string, StepOutputs>();
  const controller = new AbortController();
  opts.signal?.addEventListener("abort", () => controller.abort(opts.signal?.reason), { once: true });
  let spinning = 0;

  const ctx: RunContext<O> = {
    runId,
    runbook: runbook.name,
    options: opts.options,
    outputs: opts.outputs,
    peer: opts.peer,
    dryRun: opts.dryRun,
    force: opts.force,
    incidentAt,
    startedAt,
    result<T>(id: string) {
      const r = results.get(id);
      if (!r) throw new Error(`no outputs from step "${id}" (has it run?)`);
      return r as T;
    },
    peek<T>(id: string) {
      return results.get(id) as T | undefined;
    },
    aws: (ctor, region) => opts.clients.get(ctor, region),
    async wait(title, fn) {
      printer.progress(`waiting: ${title}`);
      if (!printer.interactive || spinning > 0) return fn();
      spinning++;
      try {
        const { spinner } = await import("zx");
        return await spinner(title, fn);
      } finally {
        spinning--;
      }
    },
    log: { info: (m) => printer.info(m), warn: (m) => printer.warn(m) },
    async notify(subject, message) {
      if (opts.dryRun) return;
      await notifyAll(opts.sinks, { kind: "progress", runbook: runbook.name, runId, stack: opts.outputs.stack, subject: `[eventchain-dr] ${subject}`, message }, ctx.log);
    },
    tracker,
    signal: controller.signal,
  };

  const applyOutputs = (id: string, out: StepOutputs) => {
    results.set(id, out);
    if (typeof out.recoveryPointAt === "string") {
      tracker.setRecoveryPoint(new Date(out.recoveryPointAt), typeof out.recoveryPointSource === "string" ? out.recoveryPointSource : id);
    }
  };

  // ---- dry run: print the plan; run only read-only steps; write nothing ----
  if (opts.dryRun) {
    const plan: PlanEntry[] = [];
    printer.info(`DRY RUN of ${runbook.name} on stack ${opts.outputs.stack} (${opts.outputs.region}): nothing will be changed.`);
    for (const step of steps) {
      let outputs: StepOutputs | undefined;
      if (step.readOnly) {
        try {
          outputs = (await step.run(ctx)) ?? {};
          applyOutputs(step.id, outputs);
        } catch (error) {
          if (error instanceof BadInputError) throw error;
          return { exitCode: EXIT.failed, runId, status: "planned", message: `dry run: read-only step "${step.id}" failed: ${errorMessage(error)}`, plan };
        }
      }
      const entry: PlanEntry = { id: step.id, title: step.title, dependsOn: deps.get(step.id)!, flags: flagsOf(step as Step<unknown>), actions: await step.describe(ctx), ...(outputs ? { outputs } : {}) };
      plan.push(entry);
      printer.planStep(entry);
    }
    return { exitCode: EXIT.succeeded, runId, status: "planned", message: `dry run complete: ${plan.length} steps planned, nothing changed`, plan };
  }

  // ---- real run ----
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
  if (opts.resume) {
    journal.data.status = "running";
    for (const step of steps) if (journal.isFinished(step.id)) applyOutputs(step.id, journal.step(step.id)!.outputs ?? {});
    journal.save();
  }
  const resumeCommand = `${opts.command} --resume ${runId} --state-dir ${opts.stateDir}`;
  const notify = (kind: NotificationKind, message: string) =>
    notifyAll(
      opts.sinks,
      { kind, runbook: runbook.name, runId, stack: opts.outputs.stack, subject: `[eventchain-dr] ${runbook.name} ${kind.replace("_", " ")} on ${opts.outputs.stack} (run ${runId})`, message },
      ctx.log,
    );

  await notify("started", `${runbook.summary}\nSystem ${objective.system} (tier ${objective.tier}): RTO ${objective.rtoMinutes} min, RPO ${objective.rpoMinutes} min.\nIncident at ${incidentAt.toISOString()}; RTO deadline ${tracker.deadline.toISOString()}.${opts.resume ? `\nResumed run.` : ""}`);
  printer.info(`${opts.resume ? "Resuming" : "Starting"} ${runbook.name} run ${runId} on stack ${opts.outputs.stack}; journal ${journal.path}`);

  const confirmLock = pLimit(1);
  const confirm = (step: Step<O>) =>
    confirmLock(async () => {
      const what = step.destructive ? "is destructive" : "moves traffic";
      if (opts.yes) {
        printer.info(`step "${step.id}" ${what}: confirmed by --yes`);
        return;
      }
      if (!opts.ask) {
        throw new ConfirmationError(`step "${step.id}" (${step.title}) ${what} and needs confirmation, but there is no terminal to ask: re-run with --yes to confirm, e.g. ${resumeCommand} --yes`, step.id);
      }
      const actions = await step.describe(ctx);
      printer.planStep({ id: step.id, title: step.title, dependsOn: deps.get(step.id)!, flags: flagsOf(step as Step<unknown>), actions });
      if (!(await opts.ask(`Step "${step.title}" ${what}. Proceed? [y/N] `))) {
        throw new ConfirmationError(`step "${step.id}" was declined at the prompt; nothing after it ran. To continue later: ${resumeCommand}`, step.id);
      }
    });

  const runOne = async (step: Step<O>) => {
    if (journal.isFinished(step.id)) {
      printer.step(step.id, step.title, "skipped", "finished earlier in this run", tracker.status());
      return;
    }
    if (controller.signal.aborted) throw new InterruptedError("interrupted before step " + step.id);
    const done = step.isDone ? await step.isDone(ctx) : false;
    if (done) {
      const outputs = typeof done === "object" ? done : {};
      if (step.verify) await step.verify(ctx, outputs);
      applyOutputs(step.id, outputs);
      journal.skipped(step.id, step.title, outputs, "already done", now());
      tracker.milestone(step.milestone ?? step.id, `${step.title} (already done)`);
      journal.setTracker(tracker.state());
      printer.step(step.id, step.title, "skipped", "already done", tracker.status());
      return;
    }
    if (step.destructive || step.movesTraffic) await confirm(step);
    if (controller.signal.aborted) throw new InterruptedError("interrupted before step " + step.id);
    journal.started(step.id, step.title, now());
    printer.step(step.id, step.title, "started", undefined, tracker.status());
    try {
      const outputs = (await step.run(ctx)) ?? {};
      if (step.verify) await step.verify(ctx, outputs);
      applyOutputs(step.id, outputs);
      tracker.milestone(step.milestone ?? step.id, step.title);
      journal.setTracker(tracker.state());
      journal.finished(step.id, "succeeded", outputs, undefined, now());
      printer.step(step.id, step.title, "succeeded", undefined, tracker.status());
    } catch (error) {
      journal.failed(step.id, errorMessage(error), now());
      printer.step(step.id, step.title, "failed", errorMessage(error), tracker.status());
      if (error instanceof BadInputError) throw error;
      throw new StepFailedError(step.id, error);
    }
  };

  // Schedule: every step whose prerequisites are done starts; independent ones overlap.
  const limit = pLimit(4);
  const done = new Set<string>();
  const pending = [...steps];
  const running = new Map<string, Promise<void>>();
  let firstError: unknown;
  while (pending.length || running.size) {
    if (firstError === undefined && !controller.signal.aborted) {
      for (const step of [...pending]) {
        if (!deps.get(step.id)!.every((d) => done.has(d))) continue;
        pending.splice(pending.indexOf(step), 1);
        const p = limit(() => runOne(step))
          .then(() => void done.add(step.id))
          .catch((error) => void (firstError ??= error))
          .finally(() => running.delete(step.id));
        running.set(step.id, p);
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }
  if (firstError === undefined && pending.length) firstError = new InterruptedError(`interrupted before step ${pending[0]!.id}`);

  // ---- finish: journal, report, notification, exit code ----
  const finishedAt = now();
  let status: Report["status"];
  let exitCode: ExitCode;
  let failure: Report["failure"] = null;
  if (firstError === undefined) {
    status = "succeeded";
    exitCode = EXIT.succeeded;
    tracker.milestone("recovery_completed", "Recovery completed", finishedAt);
  } else if (firstError instanceof ConfirmationError) {
    status = "stopped";
    exitCode = EXIT.stopped;
    failure = { stepId: firstError.stepId, message: firstError.message, resumeCommand };
  } else if (firstError instanceof InterruptedError) {
    status = "interrupted";
    exitCode = EXIT.interrupted;
    failure = { stepId: null, message: firstError.message, resumeCommand };
  } else {
    status = "failed";
    const stepId = firstError instanceof StepFailedError ? firstError.stepId : (Object.entries(journal.data.steps).find(([, r]) => r.status === "failed")?.[0] ?? null);
    exitCode = firstError instanceof BadInputError ? EXIT.badInput : EXIT.failed;
    failure = { stepId, message: errorMessage(firstError instanceof StepFailedError ? firstError.cause : firstError), resumeCommand };
  }
  journal.setTracker(tracker.state());
  journal.finish(status, finishedAt);
  const report = buildReport({
    journal: journal.data,
    stepOrder: steps.map((s) => ({ id: s.id, title: s.title })),
    tracker,
    stack: opts.outputs.stack,
    region: opts.outputs.region,
    finishedAt,
    status,
    nextSteps: status === "succeeded" && runbook.nextSteps ? runbook.nextSteps(ctx) : [],
    checklist: status === "succeeded" && runbook.checklist ? runbook.checklist(ctx) : [],
    failure,
  });
  if (report.verdict === "objectives_missed") exitCode = EXIT.objectivesMissed;
  const reportPaths = writeReport(journal.dir, report);
  const summary =
    status === "succeeded"
      ? `${runbook.name} ${report.verdict === "objectives_met" ? "succeeded within objectives" : "succeeded but MISSED objectives"}: RTO ${report.rto.achievedMinutes}/${report.rto.objectiveMinutes} min, RPO ${report.rpo.achievedMinutes ?? "n/a"}/${report.rpo.objectiveMinutes} min`
      : status === "failed"
        ? `${runbook.name} FAILED${failure?.stepId ? ` at step "${failure.stepId}"` : ""}: ${failure?.message}. Fix the cause, then resume: ${resumeCommand}`
        : `${runbook.name} ${status}: ${failure?.message}`;
  await notify(status === "succeeded" ? (report.verdict === "objectives_met" ? "succeeded" : "objectives_missed") : status === "stopped" ? "stopped" : "failed", `${summary}\nReport: ${reportPaths.markdown}`);
  return { exitCode, runId, status, message: summary, report, reportPaths, journalPath: journal.path };
}
