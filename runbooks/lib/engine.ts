/**
 * Runs a runbook, in five phases read top to bottom in `execute`:
 * - plan: the steps in dependency order, the objective, the run id, the context steps receive;
 * - prove: the lock read (another run holding it is refused first), the read-only steps the run
 *   starts with ("is the primary down?", "which backup?"), then the preflight — before the lock
 *   is taken and the journal written, so a refusal leaves nothing behind;
 * - lock: one run at a time (the shared run lock), taken before the journal is written;
 * - run: the journal opened (or resumed), then every step (run-steps.ts: side by side where
 *   independent, confirmation, fresh gates, preflight before the first change);
 * - report: the outcome, its exit code, the report, the notification.
 * A dry run stops after the plan; a resumed run that had succeeded returns its report.
 */
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { ClientFactory } from "./aws.ts";
import { createContext, type Context } from "./run-context.ts";
import { dryRun, type PlanEntry } from "./dry-run.ts";
import { BadInputError, EXIT, errorMessage, type ExitCode } from "./errors.ts";
import { Journal, newRunId, type OutputsSource, type RunStatus } from "./journal.ts";
import { Notifier, type NotificationKind, type NotificationSink, type NotifierTiming } from "./notifications.ts";
import { outcomeOf, refusalLine, summaryLine } from "./run-outcome.ts";
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
import { runSteps } from "./run-steps.ts";
import { runGraph } from "./schedule.ts";
import { commandLine } from "./shell.ts";
import { JournalMirror, journalKey, reportKey } from "./shared-journal.ts";
import type { SystemObjective as Objective } from "../../contract/objectives.ts";
import { RecoveryTracker, objectiveFromOutputs } from "./tracker.ts";
import type { AnyStep, RawOptions, Runbook, RunContext, StepOutputs } from "./types.ts";

export type { PlanEntry } from "./dry-run.ts";
export { GATE_MAX_AGE_MS } from "./run-steps.ts";

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

export async function execute<O>(opts: ExecuteOptions<O>): Promise<ExecuteResult> {
  const plan = planRun(opts);
  if (opts.resume?.data.status === "succeeded") return alreadySucceeded(plan, opts.resume);
  if (opts.dryRun) return planOnly(plan, opts);
  const storeDown = await refuseIfLocked(plan, opts);
  const proven = await proveInputs(plan, opts);
  const held = await lockRun(plan, opts, storeDown);
  try {
    const journal = await openJournal(plan, opts, held, proven);
    const firstError = await runSteps({
      checked: new Map(proven.map((p) => [p.step.id, Date.parse(p.endedAt)])),
      ...plan.context,
      steps: plan.steps,
      deps: plan.deps,
      journal,
      tracker: plan.tracker,
      printer: opts.printer,
      signal: plan.controller.signal,
      now: plan.now,
      preflight: plan.preflightOnce,
      isAssessment,
      yes: opts.yes,
      ask: opts.ask,
      resumeCommand: plan.resumeCommand,
    });
    return await reportRun(plan, opts, journal, held, held.lost ?? firstError);
  } finally {
    await held.lock?.release(held.finalStatus, held.resumable);
  }
}

/** The plan phase's result: what every later phase reads. */
interface Plan<O> {
  runbook: Runbook<O>;
  steps: AnyStep<O>[];
  deps: Map<string, string[]>;
  objective: Objective;
  runId: string;
  stack: string;
  startedAt: Date;
  incidentAt: Date;
  lockTarget: LockTarget;
  tracker: RecoveryTracker;
  controller: AbortController;
  notifier: Notifier;
  log: { info(m: string): void; warn(m: string): void };
  context: Context<O>;
  now: () => Date;
  /** The preflight, run at most once (before the first step that is not an assessment). */
  preflightOnce: () => Promise<void>;
  /** `--resume` of this run and a new run on the same outputs, each quoted for sh. */
  resumeCommand: string;
  newRunCommand: string;
}

/** Plan: steps, objective, ids and times, lock target, tracker, context. Changes nothing. */
function planRun<O>(opts: ExecuteOptions<O>): Plan<O> {
  const { runbook, printer } = opts;
  const now = opts.now ?? (() => new Date());
  const steps = typeof runbook.steps === "function" ? runbook.steps(opts.options, opts.outputs) : runbook.steps;
  const deps = resolveDependencies(steps);
  const system = typeof runbook.system === "function" ? runbook.system(opts.options) : runbook.system;
  let objective: Objective;
  try {
    objective = objectiveFromOutputs(system, opts.outputs);
  } catch (error) {
    throw new BadInputError(errorMessage(error));
  }
  const startedAt = opts.resume ? new Date(opts.resume.data.startedAt) : now();
  const incidentAt = opts.resume ? new Date(opts.resume.data.incidentAt) : (opts.incidentAt ?? startedAt);
  if (incidentAt.getTime() > startedAt.getTime() + 60_000)
    throw new BadInputError(
      `--incident-at ${incidentAt.toISOString()} is in the future: expected a time at or before now`,
    );
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
  const context = createContext({
    ...opts,
    runId,
    incidentAt,
    startedAt,
    tracker,
    notifier,
    signal: controller.signal,
    startedBefore: (id) => unfinished.has(id),
  });
  let preflighted: Promise<void> | undefined;
  const preflightOnce = () => (preflighted ??= preflight(runbook, context.scoped("the preflight"), printer));
  return {
    ...{ runbook, steps, deps, objective, runId, stack, startedAt, incidentAt, lockTarget, tracker, controller },
    ...{ notifier, log, context, now, preflightOnce },
    resumeCommand: commandLine(opts.command, ["--resume", runId, "--state-dir", opts.stateDir]),
    newRunCommand: commandLine(opts.command, sourceArgs(opts.source)),
  };
}

/** A resumed run that had succeeded: nothing to do; its original report (its RTO must not grow with the time since). */
function alreadySucceeded<O>(plan: Plan<O>, journal: Journal): ExecuteResult {
  const { report, paths } = readReport(journal.dir);
  plan.log.info(`run ${plan.runId} already succeeded at ${journal.data.finishedAt}; nothing to do`);
  return {
    exitCode: exitCodeOf(report, EXIT.succeeded),
    runId: plan.runId,
    status: "succeeded",
    message: `${plan.runbook.name} run ${plan.runId} had already succeeded: ${summaryLine(plan.runbook.name, report)}`,
    report,
    reportPaths: paths,
    journalPath: journal.path,
  };
}

/** `--dry-run`: the plan printed, read-only steps and the preflight run, nothing written. */
async function planOnly<O>(plan: Plan<O>, opts: ExecuteOptions<O>): Promise<ExecuteResult> {
  if (opts.store) await warnIfHeld(opts.store, plan.lockTarget, plan.now, opts.printer);
  const { ctx, forStep, applyOutputs } = plan.context;
  return {
    runId: plan.runId,
    status: "planned",
    ...(await dryRun(plan.steps, plan.deps, ctx, forStep, applyOutputs, opts.printer, (step) =>
      isAssessment(step) ? Promise.resolve() : plan.preflightOnce(),
    )),
  };
}

/** An assessment the prove phase ran: journalled once the journal exists. */
interface Proven<O> {
  step: AnyStep<O>;
  outputs: StepOutputs;
  startedAt: string;
  endedAt: string;
}

/**
 * Prove: the read-only steps the run starts with (the assessments such as "is the primary down?"
 * and any read-only step that depends only on them, side by side as in the run), then the
 * preflight. A refusal (BadInputError) is thrown before anything is written: exit 2, no lock, no
 * journal, no report. A read-only step that fails otherwise is left to the run phase, which runs
 * it again and journals the failure (once the preflight has passed).
 */
async function proveInputs<O>(plan: Plan<O>, opts: ExecuteOptions<O>): Promise<Proven<O>[]> {
  const prefix: AnyStep<O>[] = [];
  for (const s of plan.steps)
    if (s.readOnly && !opts.resume?.isFinished(s.id) && s.dependsOn.every((d) => prefix.some((p) => p.id === d.id)))
      prefix.push(s);
  const proven: Proven<O>[] = [];
  const { forStep, applyOutputs } = plan.context;
  const runOne = async (step: AnyStep<O>) => {
    const ctx = forStep(step.id, plan.deps.get(step.id)!);
    const startedAt = plan.now().toISOString();
    opts.printer.step(step.id, step.title, "started", undefined, plan.tracker.status());
    try {
      const outputs: StepOutputs = await step.run(ctx);
      if (step.verify) await step.verify(ctx, outputs);
      applyOutputs(step.id, outputs);
      proven.push({ step, outputs, startedAt, endedAt: plan.now().toISOString() });
      opts.printer.step(step.id, step.title, "succeeded", undefined, plan.tracker.status());
    } catch (error) {
      opts.printer.step(step.id, step.title, "failed", errorMessage(error), plan.tracker.status());
      if (error instanceof BadInputError)
        throw new BadInputError(refusalLine(plan.runbook.name, step.id, errorMessage(error), plan.newRunCommand));
      throw error;
    }
  };
  const deps = new Map(prefix.map((s) => [s.id, plan.deps.get(s.id)!]));
  const firstError = await runGraph(prefix, deps, runOne, plan.controller.signal);
  if (firstError instanceof BadInputError) throw firstError;
  // Also after a read-only step failed otherwise: a gap is still a refusal with nothing written.
  await plan.preflightOnce();
  return proven;
}

/**
 * Another run holding the lock is the first thing to say (before probing anything): the lock is
 * read, not taken — the lock phase takes it after the prove phase. A store that cannot be read
 * is returned, so the lock phase does not wait on it a second time (local journal only).
 */
async function refuseIfLocked<O>(plan: Plan<O>, opts: ExecuteOptions<O>): Promise<unknown> {
  if (!opts.store) return undefined;
  try {
    await RunLock.check({
      ...plan.lockTarget,
      store: opts.store,
      runId: plan.runId,
      startedAt: plan.startedAt.toISOString(),
      takeOver: opts.takeOver === true,
      log: plan.log,
      now: plan.now,
      ...(opts.me ? { me: opts.me } : {}),
      onLost: () => undefined,
    });
  } catch (error) {
    if (error instanceof BadInputError) throw error;
    return error;
  }
  return undefined;
}

/** The lock phase's result, and how the run ended (for releasing the lock). */
interface Held {
  lock: RunLock | undefined;
  /** Why the run keeps no shared journal (null once it has one). */
  sharedNote: string | null;
  lost: LockLostError | undefined;
  onLost: (error: LockLostError) => void;
  finalStatus: RunStatus;
  resumable: boolean;
}

/** Lock: one run at a time, taken before the journal is written, so a refused run leaves nothing behind. */
async function lockRun<O>(plan: Plan<O>, opts: ExecuteOptions<O>, storeDown?: unknown): Promise<Held> {
  const held: Held = {
    lock: undefined,
    sharedNote: opts.storeNote ?? null,
    lost: undefined,
    onLost: (error) => {
      if (held.lost) return;
      held.lost = error;
      opts.printer.warn(error.message);
      plan.controller.abort(error);
    },
    finalStatus: "failed",
    resumable: true,
  };
  if (!opts.store) return held;
  try {
    if (storeDown !== undefined) throw storeDown;
    if (!opts.resume && (await opts.store.get(journalKey(plan.runbook.name, plan.stack, plan.runId))))
      throw new BadInputError(
        `run id "${plan.runId}" already has a shared journal in ${opts.store.location}: use --resume ${plan.runId}`,
      );
    held.lock = await RunLock.acquire({
      ...plan.lockTarget,
      store: opts.store,
      runId: plan.runId,
      startedAt: plan.startedAt.toISOString(),
      takeOver: opts.takeOver === true,
      log: plan.log,
      now: plan.now,
      ...(opts.me ? { me: opts.me } : {}),
      onLost: held.onLost,
    });
  } catch (error) {
    if (error instanceof BadInputError) throw error;
    held.sharedNote = `shared store ${opts.store.location} unreachable (${(error as Error).name}: ${errorMessage(error)}): local journal only, no run lock, no resume from another machine`;
    opts.printer.warn(held.sharedNote);
  }
  return held;
}

/** Run, first half: the journal created (with the inputs a resume must match) or resumed, its shared copy attached. */
async function openJournal<O>(
  plan: Plan<O>,
  opts: ExecuteOptions<O>,
  held: Held,
  proven: Proven<O>[],
): Promise<Journal> {
  const journal =
    opts.resume ??
    Journal.create(opts.stateDir, {
      runId: plan.runId,
      runbook: plan.runbook.name,
      stack: plan.stack,
      source: opts.source,
      options: opts.rawOptions,
      inputs: { outputs: opts.outputs, peer: opts.peer ?? null },
      force: opts.force,
      incidentAt: plan.incidentAt.toISOString(),
      startedAt: plan.startedAt.toISOString(),
    });
  if (held.lock && opts.store) {
    const key = journalKey(plan.runbook.name, plan.stack, plan.runId);
    const existing = opts.resume ? await opts.store.get(key).catch(() => undefined) : undefined;
    journal.attachMirror(new JournalMirror(opts.store, key, existing?.etag, plan.log, held.onLost));
    await journal.flush();
    held.sharedNote = null;
  }
  for (const p of proven) {
    journal.started(p.step.id, p.step.title, new Date(p.startedAt));
    plan.tracker.milestone(p.step.milestone ?? p.step.id, p.step.title, new Date(p.endedAt));
    journal.setTracker(plan.tracker.state());
    journal.finished(p.step.id, "succeeded", p.outputs, undefined, new Date(p.endedAt));
  }
  if (opts.resume) {
    journal.data.status = "running";
    for (const step of plan.steps)
      if (journal.isFinished(step.id)) plan.context.applyOutputs(step.id, journal.step(step.id)!.outputs ?? {});
    journal.save();
  }
  const { objective, incidentAt, tracker } = plan;
  notify(
    plan,
    "started",
    `${plan.runbook.summary}\nSystem ${objective.system} (tier ${objective.tier}): RTO ${objective.rtoMinutes} min, RPO ${objective.rpoMinutes} min.\nIncident at ${incidentAt.toISOString()}; RTO deadline ${tracker.deadline.toISOString()}.${opts.resume ? "\nResumed run." : ""}`,
  );
  opts.printer.info(
    `${opts.resume ? "Resuming" : "Starting"} ${plan.runbook.name} run ${plan.runId} on stack ${plan.stack}; journal ${journal.path}${journal.shared ? ` (shared: ${journal.shared.location})` : ""}`,
  );
  return journal;
}

/** Report: the outcome and its exit code, the journal closed, the report written (and shared), the notification. */
async function reportRun<O>(
  plan: Plan<O>,
  opts: ExecuteOptions<O>,
  journal: Journal,
  held: Held,
  error: unknown,
): Promise<ExecuteResult> {
  const finishedAt = plan.now();
  const outcome = outcomeOf(error, journal.data, plan.resumeCommand, {
    readOnly: new Set(plan.steps.filter((s) => s.readOnly).map((s) => s.id)),
    inEffect: plan.steps.filter((s) => s.movesTraffic || s.destructive).map((s) => ({ id: s.id, title: s.title })),
    newRunCommand: plan.newRunCommand,
  });
  const succeeded = outcome.status === "succeeded";
  held.finalStatus = outcome.status;
  held.resumable = !succeeded && outcome.failure?.resumeCommand != null;
  if (succeeded) plan.tracker.milestone("recovery_completed", "Recovery completed", finishedAt);
  journal.setTracker(plan.tracker.state());
  if (outcome.exitCode === EXIT.badInput) journal.data.refused = true;
  journal.finish(outcome.status, finishedAt);
  // The shared copy first, so the report can state every version this run wrote before it.
  await journal.flush();
  const { ctx } = plan.context;
  const report = buildReport({
    journal: journal.data,
    stepOrder: plan.steps.map((s) => ({ id: s.id, title: s.title })),
    tracker: plan.tracker,
    stack: plan.stack,
    region: opts.outputs.region,
    finishedAt,
    status: outcome.status,
    nextSteps: succeeded && plan.runbook.nextSteps ? plan.runbook.nextSteps(ctx) : [],
    checklist: succeeded && plan.runbook.checklist ? plan.runbook.checklist(ctx) : [],
    failure: outcome.failure,
    journalLocation: {
      local: journal.path,
      shared: journal.shared && !held.lost ? journal.shared.location : null,
      note: held.lost ? held.lost.message : (journal.shared?.behind ?? held.sharedNote),
      ...(opts.store ? { versionsWritten: opts.store.versionsWritten() } : {}),
    },
  });
  const reportPaths = writeReport(journal.dir, report);
  await journal.flush();
  if (journal.shared && !held.lost)
    await opts.store
      ?.put(reportKey(plan.runbook.name, plan.stack, plan.runId), JSON.stringify(report, null, 2) + "\n")
      .catch((e: unknown) => opts.printer.warn(`report not copied to ${opts.store!.location}: ${errorMessage(e)}`));
  const message = summaryLine(plan.runbook.name, report);
  notify(plan, notificationKind(report), `${message}\nReport: ${reportPaths.markdown}`);
  await plan.notifier.flush();
  const exitCode = exitCodeOf(report, outcome.exitCode);
  return {
    exitCode,
    runId: plan.runId,
    status: outcome.status,
    message,
    report,
    reportPaths,
    journalPath: journal.path,
  };
}

/**
 * A finished run's exit code: a caveat (e.g. the old primary NOT fenced) before a missed
 * objective, before the outcome's own code — automation must tell those apart from a clean run.
 */
function exitCodeOf(report: Report, outcomeCode: ExitCode): ExitCode {
  if (report.status !== "succeeded") return outcomeCode;
  if (report.caveats?.length) return EXIT.succeededWithCaveat;
  return report.verdict === "objectives_missed" ? EXIT.objectivesMissed : outcomeCode;
}

function notificationKind(report: Report): NotificationKind {
  if (report.status === "succeeded") return report.verdict === "objectives_met" ? "succeeded" : "objectives_missed";
  return report.status === "stopped" ? "stopped" : "failed";
}

function notify<O>(plan: Plan<O>, kind: NotificationKind, message: string): void {
  plan.notifier.send({
    kind,
    runbook: plan.runbook.name,
    runId: plan.runId,
    stack: plan.stack,
    subject: `[eventchain-dr] ${plan.runbook.name} ${kind.replace("_", " ")} on ${plan.stack} (run ${plan.runId})`,
    message,
  });
}

/** `--outputs f` / `--stack x` of a run, for the command that starts a new one. */
export function sourceArgs(source: OutputsSource): string[] {
  return [...(source.file ? ["--outputs", source.file] : []), ...(source.stack ? ["--stack", source.stack] : [])];
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
