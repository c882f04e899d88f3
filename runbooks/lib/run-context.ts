/** Builds the `RunContext` steps receive, and records step outputs (and the recovery point) into it. */
import { policyOf, retrying, type ClientFactory } from "./aws.ts";
import type { Notifier } from "./notifications.ts";
import type { Printer } from "./printer.ts";
import { RetryBudget } from "./retry.ts";
import type { RunContext, Runbook, StepOutputs, StepRef } from "./types.ts";

/** What the CLI hands over: the run's fixed facts (as `RunContext` names them) and its services. */
export type ContextInput<O> = Pick<
  RunContext<O>,
  "runId" | "options" | "outputs" | "peer" | "dryRun" | "force" | "incidentAt" | "startedAt" | "tracker" | "signal"
> & {
  runbook: Runbook<O>;
  clients: ClientFactory;
  notifier: Notifier;
  printer: Printer;
  /** Whether a step was started by an earlier process of this run without finishing. */
  startedBefore?: (stepId: string) => boolean;
};

export interface Context<O> {
  ctx: RunContext<O>;
  /** Stores a finished step's outputs; `recoveryPointAt` (+ `recoveryPointSource`) sets the tracker's recovery point. */
  applyOutputs(stepId: string, outputs: StepOutputs): void;
  /** The context one step receives: it may read the results of `dependsOn` (ids) only; its calls share one retry budget. */
  forStep(stepId: string, dependsOn: readonly string[]): RunContext<O>;
  /** A context for work outside the steps (preflight), with its own retry budget named `scope`. */
  scoped(scope: string): RunContext<O>;
}

export function createContext<O>(input: ContextInput<O>): Context<O> {
  const { runbook, runId, printer, tracker } = input;
  const results = new Map<string, StepOutputs>();
  let spinning = 0;
  const log = { info: (m: string) => printer.info(m), warn: (m: string) => printer.warn(m) };
  const awsWith =
    (budget: RetryBudget): RunContext<O>["aws"] =>
    (ctor, region) =>
      retrying(input.clients.get(ctor, region), region, budget);
  const budgetFor = (scope: string) => new RetryBudget(policyOf(input.clients), scope, { log, signal: input.signal });
  const ctx: RunContext<O> = {
    runId,
    runbook: runbook.name,
    options: input.options,
    outputs: input.outputs,
    peer: input.peer,
    dryRun: input.dryRun,
    force: input.force,
    incidentAt: input.incidentAt,
    startedAt: input.startedAt,
    startedBefore: false,
    result<R extends object>(ref: StepRef<R>) {
      const r = results.get(ref.id);
      if (!r) throw new Error(`no outputs from step "${ref.id}" (has it run?)`);
      return r as R;
    },
    peek<R extends object>(ref: StepRef<R>) {
      return results.get(ref.id) as R | undefined;
    },
    aws: awsWith(budgetFor("the run")),
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
    log,
    async notify(subject, message) {
      if (input.dryRun) return;
      input.notifier.send({
        kind: "progress",
        runbook: runbook.name,
        runId,
        stack: input.outputs.stack,
        subject: `[eventchain-dr] ${subject}`,
        message,
      });
    },
    tracker,
    signal: input.signal,
  };
  const applyOutputs = (id: string, out: StepOutputs) => {
    results.set(id, out);
    if (typeof out.recoveryPointAt === "string") {
      tracker.setRecoveryPoint(
        new Date(out.recoveryPointAt),
        typeof out.recoveryPointSource === "string" ? out.recoveryPointSource : id,
      );
    }
  };
  const forStep = (stepId: string, dependsOn: readonly string[]): RunContext<O> => {
    const allowed = (ref: StepRef<object>) => {
      if (!dependsOn.includes(ref.id)) {
        throw new Error(
          `step "${stepId}" reads the result of step "${ref.id}", which it does not depend on: add it to the dependsOn of "${stepId}"`,
        );
      }
      return ref;
    };
    return {
      ...ctx,
      aws: awsWith(budgetFor(`step "${stepId}"`)),
      startedBefore: input.startedBefore?.(stepId) ?? false,
      result: <R extends object>(ref: StepRef<R>) => ctx.result(allowed(ref) as StepRef<R>),
      peek: <R extends object>(ref: StepRef<R>) => ctx.peek(allowed(ref) as StepRef<R>),
    };
  };
  const scoped = (scope: string): RunContext<O> => ({ ...ctx, aws: awsWith(budgetFor(scope)) });
  return { ctx, applyOutputs, forStep, scoped };
}
