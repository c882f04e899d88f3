/**
 * The run phase of a run (engine.ts): every step in dependency order, independent ones side by
 * side — skipped when its journal says it finished, or when its `isDone` finds its effect in
 * place; confirmed and its gates re-checked when it moves traffic or is destructive; its result
 * journalled (and flushed to the shared copy) before a step after it starts.
 */
import pLimit from "p-limit";
import { flagsOf } from "./dry-run.ts";
import { BadInputError, ConfirmationError, InterruptedError, StepFailedError, errorMessage } from "./errors.ts";
import type { Journal } from "./journal.ts";
import { ancestorsOf } from "./plan.ts";
import type { Printer } from "./printer.ts";
import { runGraph } from "./schedule.ts";
import type { RecoveryTracker } from "./tracker.ts";
import type { AnyStep, RunContext, StepOutputs } from "./types.ts";

/**
 * A gate's result older than this is re-checked before the traffic-moving or destructive step
 * it gates (as is any gate result from an earlier process). Five minutes: target health and
 * database state can change within minutes, while the checks take seconds.
 */
export const GATE_MAX_AGE_MS = 5 * 60_000;

/** What the run phase works with: the plan, the journal and the run's services. */
export interface StepRun<O> {
  steps: AnyStep<O>[];
  deps: Map<string, string[]>;
  journal: Journal;
  tracker: RecoveryTracker;
  printer: Printer;
  signal: AbortSignal;
  now: () => Date;
  forStep: (stepId: string, dependsOn: readonly string[]) => RunContext<O>;
  applyOutputs: (stepId: string, outputs: StepOutputs) => void;
  /** Resolves once the preflight passed (run before the first step that is not an assessment). */
  preflight: () => Promise<void>;
  isAssessment: (step: AnyStep<O>) => boolean;
  /** `--yes` was given. */
  yes: boolean;
  ask: ((question: string) => Promise<boolean>) | undefined;
  /** The command that resumes this run (quoted for sh), for messages. */
  resumeCommand: string;
  /** Steps this process already ran (the prove phase's assessments), and when: not run or printed again. */
  checked?: Map<string, number>;
}

/** Runs every step; resolves with the first error (undefined when all finished). */
export async function runSteps<O>(r: StepRun<O>): Promise<unknown> {
  const checkedHere = new Map<string, number>(r.checked ?? []);
  const confirmLock = pLimit(1);
  const one = (step: AnyStep<O>) => runOne(r, step, checkedHere, (s) => confirmLock(() => confirm(r, s)));
  return runGraph(r.steps, r.deps, one, r.signal);
}

/** One step: skip when finished or already done; else confirm, re-check its gates, run, verify, journal. */
async function runOne<O>(
  r: StepRun<O>,
  step: AnyStep<O>,
  checkedHere: Map<string, number>,
  confirmStep: (step: AnyStep<O>) => Promise<void>,
): Promise<void> {
  const { journal, printer, tracker } = r;
  const ctx = r.forStep(step.id, r.deps.get(step.id)!);
  if (journal.isFinished(step.id)) {
    if (r.checked?.has(step.id)) return; // run (and printed) by the prove phase of this process
    return printer.step(step.id, step.title, "skipped", "finished earlier in this run", tracker.status());
  }
  if (r.signal.aborted) throw new InterruptedError(`interrupted before step ${step.id}`);
  if (!r.isAssessment(step)) await r.preflight();
  let done: StepOutputs | false = false;
  try {
    done = step.isDone ? await step.isDone(ctx) : false;
    if (done && step.verify) await step.verify(ctx, done);
  } catch (error) {
    failBeforeRun(r, step, new Error(`checking whether it is already done: ${errorMessage(error)}`, { cause: error }));
  }
  if (done) {
    r.applyOutputs(step.id, done);
    journal.skipped(step.id, step.title, done, "already done", r.now());
    tracker.milestone(step.milestone ?? step.id, `${step.title} (already done)`);
    journal.setTracker(tracker.state());
    checkedHere.set(step.id, r.now().getTime());
    printer.step(step.id, step.title, "skipped", "already done", tracker.status());
    return journal.flush();
  }
  if (step.destructive || step.movesTraffic) {
    await confirmStep(step);
    try {
      await refreshGates(r, step, checkedHere);
    } catch (error) {
      failBeforeRun(r, step, error);
    }
  }
  if (r.signal.aborted) throw new InterruptedError(`interrupted before step ${step.id}`);
  journal.started(step.id, step.title, r.now());
  printer.step(step.id, step.title, "started", undefined, tracker.status());
  try {
    const outputs: StepOutputs = await step.run(ctx);
    if (step.verify) await step.verify(ctx, outputs);
    r.applyOutputs(step.id, outputs);
    tracker.milestone(step.milestone ?? step.id, step.title);
    journal.setTracker(tracker.state());
    journal.finished(step.id, "succeeded", outputs, undefined, r.now());
    checkedHere.set(step.id, r.now().getTime());
    printer.step(step.id, step.title, "succeeded", undefined, tracker.status());
  } catch (error) {
    if (r.signal.aborted && !(error instanceof BadInputError)) {
      // A wait cut short by SIGINT/SIGTERM (or a takeover): the step is re-run (after its isDone) on --resume.
      journal.failed(step.id, `interrupted: ${errorMessage(error)}`, r.now());
      printer.step(step.id, step.title, "failed", "interrupted", tracker.status());
      throw new InterruptedError(`interrupted during step ${step.id}`);
    }
    journal.failed(step.id, errorMessage(error), r.now());
    printer.step(step.id, step.title, "failed", errorMessage(error), tracker.status());
    throw error instanceof BadInputError ? error : new StepFailedError(step.id, error);
  }
  // The shared copy must know a step finished before the next one starts: a resume elsewhere must not redo it.
  await journal.flush();
}

/** A step that fails before its `run` starts: journalled as such (attempts unchanged), then thrown. */
function failBeforeRun<O>(r: StepRun<O>, step: AnyStep<O>, error: unknown): never {
  if (r.signal.aborted && !(error instanceof BadInputError))
    throw new InterruptedError(`interrupted before step ${step.id}`);
  r.journal.failedBeforeRun(step.id, step.title, errorMessage(error), r.now());
  r.printer.step(step.id, step.title, "failed", errorMessage(error), r.tracker.status());
  throw error instanceof BadInputError ? error : new StepFailedError(step.id, error);
}

/** `--yes`, or a yes at the terminal; else ConfirmationError (exit 4) naming how to go on. */
async function confirm<O>(r: StepRun<O>, step: AnyStep<O>): Promise<void> {
  const what = step.destructive ? "is destructive" : "moves traffic";
  if (r.yes) return r.printer.info(`step "${step.id}" ${what}: confirmed by --yes`);
  if (!r.ask)
    throw new ConfirmationError(
      `step "${step.id}" (${step.title}) ${what} and needs confirmation, but there is no terminal to ask: re-run with --yes to confirm, e.g. ${r.resumeCommand} --yes`,
      step.id,
    );
  r.printer.planStep({
    id: step.id,
    title: step.title,
    dependsOn: r.deps.get(step.id)!,
    flags: flagsOf(step),
    actions: await step.describe(r.forStep(step.id, r.deps.get(step.id)!)),
  });
  if (!(await r.ask(`Step "${step.title}" ${what}. Proceed? [y/N] `)))
    throw new ConfirmationError(
      `step "${step.id}" was declined at the prompt; nothing after it ran. To continue later: ${r.resumeCommand}`,
      step.id,
    );
}

/** Re-runs the gates before `step` whose result came from an earlier process or is older than GATE_MAX_AGE_MS. */
async function refreshGates<O>(r: StepRun<O>, step: AnyStep<O>, checkedHere: Map<string, number>): Promise<void> {
  const before = ancestorsOf(r.deps, step.id);
  for (const gate of r.steps.filter((s) => s.gate && before.has(s.id))) {
    const seen = checkedHere.get(gate.id);
    const age = seen === undefined ? undefined : r.now().getTime() - seen;
    const why =
      age === undefined
        ? "its result comes from an earlier process (resumed run)"
        : age > GATE_MAX_AGE_MS
          ? `its result is ${Math.round(age / 60_000)} min old (re-checked after ${GATE_MAX_AGE_MS / 60_000} min)`
          : undefined;
    if (!why) continue;
    r.printer.info(`re-checking "${gate.id}" right before "${step.id}": ${why}`);
    const gateCtx = r.forStep(gate.id, r.deps.get(gate.id)!);
    try {
      const outputs: StepOutputs = await gate.run(gateCtx);
      if (gate.verify) await gate.verify(gateCtx, outputs);
      r.applyOutputs(gate.id, outputs);
      r.journal.rechecked(gate.id, outputs, r.now());
      checkedHere.set(gate.id, r.now().getTime());
    } catch (error) {
      const message = `gate "${gate.id}" re-checked before this step failed: ${errorMessage(error)}`;
      throw error instanceof BadInputError ? new BadInputError(message) : new Error(message, { cause: error });
    }
  }
}
