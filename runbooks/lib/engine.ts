/**
 * Runs a runbook: preflight, run lock, dependency order (independent steps side by side),
 * dry-run, confirmation, fresh gates, journal (local and shared) and resume, tracker,
 * notifications, report.
 */
import pLimit from "p-limit";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { ClientFactory } from "./aws.ts";
import { createContext } from "./run-context.ts";
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
import { Notifier, type NotificationKind, type NotificationSink, type NotifierTiming } from "./notifications.ts";
import { outcomeOf, summaryLine } from "./run-outcome.ts";
import { resolveDependencies } from "./plan.ts";
import { PreflightError, runPreflight } from "./preflight-gate.ts";
import type { Printer } from "./printer.ts";
import { buildReport, readReport, writeReport, type Report } from "./recovery-report.ts";
import {
  describeHolder,
  LockLostError,
  readLock,
  RunLock,
  SILENT_AFTER_MS,
  type LockTarget,
  type Me,
} from "./run-lock.ts";
import type { ReliableStore } from "./run-store.ts";
import { runGraph } from "./schedule.ts";
import { JournalMirror, journalKey, reportKey } from "./shared-journal.ts";
import { RecoveryTracker, objectiveFromOutputs } from "./tracker.ts";
import type { AnyStep, RawOptions, Runbook, RunContext, StepOutputs } from "./types.ts";

export type { PlanEntry } from "./dry-run.ts";

/**
 * A gate's result older than this is re-checked before the traffic-moving or destructive step
 * it gates (as is any gate result from an earlier process). Five minutes: target health and
 * database state can change within minutes, while the checks take seconds.
 */
export const GATE_MAX_AGE_MS = 5 * 60_000;

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
  /** The shared store (run lock, shared journal) of an incident runbook; undefined = local journal only. */
  store?: ReliableStore;
  /** Why there is no shared store (for the report), when there is none. */
  storeNote?: string;
  /** `--take-over`: take the lock from a holder silent for longer than SILENT_AFTER_MS. */
  takeOver?: boolean;
  clients: ClientFactory;
  sinks: NotificationSink[];
  notifierTiming?: Partial<NotifierTiming>;
  /** Asks a yes/no question on a terminal; undefined when there is no terminal. */
  ask: ((question: string) => Promise<boolean>) | undefined;
  printer: Printer;
  signal?: AbortSignal;
  /** How to resume, for messages, e.g. `npx zx runbooks/<name>.ts`. */
  command: string;
  now?: () => Date;
  /** This process as the run lock names it (tests stand in another machine). */
  me?: Me;
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

/** Every step `id` depends on, directly or not. */
function ancestorsOf(deps: Map<string, string[]>, id: string): Set<string> {
  const out = new Set<string>();
  const visit = (x: string) => {
    for (const d of deps.get(x) ?? []) {
      if (out.has(d)) continue;
      out.add(d);
      visit(d);
    }
  };
  visit(id);
  return out;
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
  const stack = opts.outputs.stack;
  const lockTarget: LockTarget = {
    runbook: runbook.name,
    stack,
    ...(runbook.lockScope ? { scope: { name: runbook.lockScope, stacks: [stack, opts.outputs.peerStack] } } : {}),
  };
  const tracker = new RecoveryTracker(objective, incidentAt, opts.resume?.data.tracker, now);
  const controller = new AbortController();
  opts.signal?.addEventListener("abort", () => controller.abort(opts.signal?.reason), { once: true });
  const log = { info: (m: string) => printer.info(m), warn: (m: string) => printer.warn(m) };
  const notifier = new Notifier(opts.sinks, log, opts.notifierTiming);
  // Steps an earlier process of this run started and did not finish.
  const unfinished = new Set(
    Object.entries(opts.resume?.data.steps ?? {})
      .filter(([, r]) => (r.status === "running" || r.status === "failed") && r.attempts > 0)
      .map(([id]) => id),
  );
  const { ctx, applyOutputs, forStep, scoped } = createContext({
    ...opts,
    runId,
    incidentAt,
    startedAt,
    tracker,
    notifier,
    signal: controller.signal,
    startedBefore: (id) => unfinished.has(id),
  });

  if (opts.resume?.data.status === "succeeded") {
    // Nothing to do: keep the original report (its RTO must not grow with the time since).
    const journal = opts.resume;
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

  // Preflight once, right before the first step that is not an assessment (a read-only gate:
  // "is the primary down?" keeps its own refusal), so before any change; in a dry run too.
  let preflighted: Promise<void> | undefined;
  const preflightOnce = () => (preflighted ??= preflight(runbook, scoped("the preflight"), printer));

  if (opts.dryRun) {
    if (opts.store) await warnIfHeld(opts.store, lockTarget, now, printer);
    return {
      runId,
      status: "planned",
      ...(await dryRun(steps, deps, ctx, forStep, applyOutputs, printer, (step) =>
        isAssessment(step) ? Promise.resolve() : preflightOnce(),
      )),
    };
  }

  // One run at a time: the lock before the journal, so a refused run leaves nothing behind.
  let lost: LockLostError | undefined;
  const onLost = (error: LockLostError) => {
    if (lost) return;
    lost = error;
    printer.warn(error.message);
    controller.abort(error);
  };
  let lock: RunLock | undefined;
  let sharedNote: string | null = opts.storeNote ?? null;
  if (opts.store) {
    try {
      if (!opts.resume && (await opts.store.get(journalKey(runbook.name, stack, runId))))
        throw new BadInputError(
          `run id "${runId}" already has a shared journal in ${opts.store.location}: use --resume ${runId}`,
        );
      lock = await RunLock.acquire({
        ...lockTarget,
        store: opts.store,
        runId,
        startedAt: startedAt.toISOString(),
        takeOver: opts.takeOver === true,
        log,
        now,
        ...(opts.me ? { me: opts.me } : {}),
        onLost,
      });
    } catch (error) {
      if (error instanceof BadInputError) throw error;
      sharedNote = `shared store ${opts.store.location} unreachable (${(error as Error).name}: ${errorMessage(error)}): local journal only, no run lock, no resume from another machine`;
      printer.warn(sharedNote);
    }
  }

  let finalStatus: RunStatus = "failed";
  let resumable = true;
  try {
    const journal =
      opts.resume ??
      Journal.create(opts.stateDir, {
        runId,
        runbook: runbook.name,
        stack,
        source: opts.source,
        options: opts.rawOptions,
        force: opts.force,
        incidentAt: incidentAt.toISOString(),
        startedAt: startedAt.toISOString(),
      });
    if (lock && opts.store) {
      const key = journalKey(runbook.name, stack, runId);
      const existing = opts.resume ? await opts.store.get(key).catch(() => undefined) : undefined;
      journal.attachMirror(new JournalMirror(opts.store, key, existing?.etag, log, onLost));
      await journal.flush();
      sharedNote = null;
    }
    if (opts.resume) {
      journal.data.status = "running";
      for (const step of steps)
        if (journal.isFinished(step.id)) applyOutputs(step.id, journal.step(step.id)!.outputs ?? {});
      journal.save();
    }
    const resumeCommand = `${opts.command} --resume ${runId} --state-dir ${opts.stateDir}`;
    const notify = (kind: NotificationKind, message: string) =>
      notifier.send({
        kind,
        runbook: runbook.name,
        runId,
        stack,
        subject: `[eventchain-dr] ${runbook.name} ${kind.replace("_", " ")} on ${stack} (run ${runId})`,
        message,
      });

    notify(
      "started",
      `${runbook.summary}\nSystem ${objective.system} (tier ${objective.tier}): RTO ${objective.rtoMinutes} min, RPO ${objective.rpoMinutes} min.\nIncident at ${incidentAt.toISOString()}; RTO deadline ${tracker.deadline.toISOString()}.${opts.resume ? "\nResumed run." : ""}`,
    );
    printer.info(
      `${opts.resume ? "Resuming" : "Starting"} ${runbook.name} run ${runId} on stack ${stack}; journal ${journal.path}${journal.shared ? ` (shared: ${journal.shared.location})` : ""}`,
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

    // Gates: checks whose results a traffic-moving or destructive step relies on, and when this process last saw them pass.
    const checkedHere = new Map<string, number>();
    const refreshGates = async (step: AnyStep<O>) => {
      const before = ancestorsOf(deps, step.id);
      for (const gate of steps.filter((s) => s.gate && before.has(s.id))) {
        const seen = checkedHere.get(gate.id);
        const age = seen === undefined ? undefined : now().getTime() - seen;
        const why =
          age === undefined
            ? "its result comes from an earlier process (resumed run)"
            : age > GATE_MAX_AGE_MS
              ? `its result is ${Math.round(age / 60_000)} min old (re-checked after ${GATE_MAX_AGE_MS / 60_000} min)`
              : undefined;
        if (!why) continue;
        printer.info(`re-checking "${gate.id}" right before "${step.id}": ${why}`);
        const gateCtx = forStep(gate.id, deps.get(gate.id)!);
        try {
          const outputs: StepOutputs = await gate.run(gateCtx);
          if (gate.verify) await gate.verify(gateCtx, outputs);
          applyOutputs(gate.id, outputs);
          journal.rechecked(gate.id, outputs, now());
          checkedHere.set(gate.id, now().getTime());
        } catch (error) {
          const message = `gate "${gate.id}" re-checked before this step failed: ${errorMessage(error)}`;
          throw error instanceof BadInputError ? new BadInputError(message) : new Error(message, { cause: error });
        }
      }
    };

    const failBeforeRun = (step: AnyStep<O>, error: unknown): never => {
      if (controller.signal.aborted && !(error instanceof BadInputError))
        throw new InterruptedError(`interrupted before step ${step.id}`);
      journal.failedBeforeRun(step.id, step.title, errorMessage(error), now());
      printer.step(step.id, step.title, "failed", errorMessage(error), tracker.status());
      throw error instanceof BadInputError ? error : new StepFailedError(step.id, error);
    };

    const afterFinish = async () => {
      // The shared copy must know a step finished before the next one starts: a resume elsewhere must not redo it.
      await journal.flush();
    };

    const runOne = async (step: AnyStep<O>) => {
      const ctx = forStep(step.id, deps.get(step.id)!);
      if (journal.isFinished(step.id))
        return printer.step(step.id, step.title, "skipped", "finished earlier in this run", tracker.status());
      if (controller.signal.aborted) throw new InterruptedError(`interrupted before step ${step.id}`);
      if (!isAssessment(step)) await preflightOnce();
      let done: StepOutputs | false = false;
      try {
        done = step.isDone ? await step.isDone(ctx) : false;
        if (done && step.verify) await step.verify(ctx, done);
      } catch (error) {
        failBeforeRun(step, new Error(`checking whether it is already done: ${errorMessage(error)}`, { cause: error }));
      }
      if (done) {
        applyOutputs(step.id, done);
        journal.skipped(step.id, step.title, done, "already done", now());
        tracker.milestone(step.milestone ?? step.id, `${step.title} (already done)`);
        journal.setTracker(tracker.state());
        checkedHere.set(step.id, now().getTime());
        printer.step(step.id, step.title, "skipped", "already done", tracker.status());
        return afterFinish();
      }
      if (step.destructive || step.movesTraffic) {
        await confirm(step);
        try {
          await refreshGates(step);
        } catch (error) {
          failBeforeRun(step, error);
        }
      }
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
        checkedHere.set(step.id, now().getTime());
        printer.step(step.id, step.title, "succeeded", undefined, tracker.status());
      } catch (error) {
        if (controller.signal.aborted && !(error instanceof BadInputError)) {
          // A wait cut short by SIGINT/SIGTERM (or a takeover): the step is re-run (after its isDone) on --resume.
          journal.failed(step.id, `interrupted: ${errorMessage(error)}`, now());
          printer.step(step.id, step.title, "failed", "interrupted", tracker.status());
          throw new InterruptedError(`interrupted during step ${step.id}`);
        }
        journal.failed(step.id, errorMessage(error), now());
        printer.step(step.id, step.title, "failed", errorMessage(error), tracker.status());
        throw error instanceof BadInputError ? error : new StepFailedError(step.id, error);
      }
      await afterFinish();
    };

    const firstError = await runGraph(steps, deps, runOne, controller.signal);

    // Finish: journal, report, notification, exit code.
    const finishedAt = now();
    const outcome = outcomeOf(lost ?? firstError, journal.data, resumeCommand, {
      readOnly: new Set(steps.filter((s) => s.readOnly).map((s) => s.id)),
      newRunCommand: `${opts.command} ${sourceArgs(opts.source)}`,
    });
    finalStatus = outcome.status;
    resumable = outcome.status !== "succeeded" && outcome.failure?.resumeCommand != null;
    if (outcome.status === "succeeded") tracker.milestone("recovery_completed", "Recovery completed", finishedAt);
    journal.setTracker(tracker.state());
    journal.finish(outcome.status, finishedAt);
    // The shared copy first, so the report can state every version this run wrote before it.
    await journal.flush();
    const succeeded = outcome.status === "succeeded";
    const report = buildReport({
      journal: journal.data,
      stepOrder: steps.map((s) => ({ id: s.id, title: s.title })),
      tracker,
      stack,
      region: opts.outputs.region,
      finishedAt,
      status: outcome.status,
      nextSteps: succeeded && runbook.nextSteps ? runbook.nextSteps(ctx) : [],
      checklist: succeeded && runbook.checklist ? runbook.checklist(ctx) : [],
      failure: outcome.failure,
      journalLocation: {
        local: journal.path,
        shared: journal.shared && !lost ? journal.shared.location : null,
        note: lost ? lost.message : (journal.shared?.behind ?? sharedNote),
        ...(opts.store ? { versionsWritten: opts.store.versionsWritten() } : {}),
      },
    });
    const exitCode = report.verdict === "objectives_missed" ? EXIT.objectivesMissed : outcome.exitCode;
    const reportPaths = writeReport(journal.dir, report);
    await journal.flush();
    if (journal.shared && !lost)
      await opts.store
        ?.put(reportKey(runbook.name, stack, runId), JSON.stringify(report, null, 2) + "\n")
        .catch((error: unknown) =>
          printer.warn(`report not copied to ${opts.store!.location}: ${errorMessage(error)}`),
        );
    const message = summaryLine(runbook.name, report);
    const kind: NotificationKind = succeeded
      ? report.verdict === "objectives_met"
        ? "succeeded"
        : "objectives_missed"
      : outcome.status === "stopped"
        ? "stopped"
        : "failed";
    notify(kind, `${message}\nReport: ${reportPaths.markdown}`);
    await notifier.flush();
    return { exitCode, runId, status: outcome.status, message, report, reportPaths, journalPath: journal.path };
  } finally {
    await lock?.release(finalStatus, resumable);
  }
}

/** `--stack x` / `--outputs f` of a run, for the command that starts a new one. */
function sourceArgs(source: OutputsSource): string {
  return [source.file && `--outputs ${source.file}`, source.stack && `--stack ${source.stack}`]
    .filter(Boolean)
    .join(" ");
}

/** A read-only gate: it decides whether to act at all, so it runs before the preflight. */
export const isAssessment = <O>(step: AnyStep<O>) => step.readOnly === true && step.gate === true;

/** Runs the runbook's preflight; throws PreflightError (exit 2, no step blamed) naming every gap. */
async function preflight<O>(runbook: Runbook<O>, ctx: RunContext<O>, printer: Printer): Promise<void> {
  if (!runbook.preflight) return;
  const result = await runPreflight(runbook.preflight(ctx));
  if (result.gaps.length) throw new PreflightError(runbook.name, result);
  printer.info(`preflight: ${result.checked.length} things this run will touch exist and are usable`);
}

/** A dry run says when a real run would be refused because another one holds the lock. */
async function warnIfHeld(store: ReliableStore, target: LockTarget, now: () => Date, printer: Printer) {
  const held = await readLock(store, target).catch(() => undefined);
  if (held?.state !== "held") return;
  const silent = now().getTime() - Date.parse(held.heartbeatAt) > SILENT_AFTER_MS;
  printer.warn(
    `a real run would be refused now: ${describeHolder(held, now())} holds the lock${silent ? " (silent: --take-over would be allowed)" : ""}`,
  );
}
