/** Builds the `RunContext` steps receive, and records step outputs (and the recovery point) into it. */
import type { ClientFactory } from "./aws.ts";
import { notifyAll, type NotificationSink } from "./notify.ts";
import type { Printer } from "./printer.ts";
import type { RunContext, Runbook, StepOutputs } from "./types.ts";

/** What the CLI hands over: the run's fixed facts (as `RunContext` names them) and its services. */
export type ContextInput<O> = Pick<
  RunContext<O>,
  "runId" | "options" | "outputs" | "peer" | "dryRun" | "force" | "incidentAt" | "startedAt" | "tracker" | "signal"
> & {
  runbook: Runbook<O>;
  clients: ClientFactory;
  sinks: NotificationSink[];
  printer: Printer;
};

export interface Context<O> {
  ctx: RunContext<O>;
  /** Stores a finished step's outputs; `recoveryPointAt` (+ `recoveryPointSource`) sets the tracker's recovery point. */
  applyOutputs(stepId: string, outputs: StepOutputs): void;
}

export function createContext<O>(input: ContextInput<O>): Context<O> {
  const { runbook, runId, printer, tracker } = input;
  const results = new Map<string, StepOutputs>();
  let spinning = 0;
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
    result<T>(id: string) {
      const r = results.get(id);
      if (!r) throw new Error(`no outputs from step "${id}" (has it run?)`);
      return r as T;
    },
    peek<T>(id: string) {
      return results.get(id) as T | undefined;
    },
    aws: (ctor, region) => input.clients.get(ctor, region),
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
      if (input.dryRun) return;
      await notifyAll(
        input.sinks,
        {
          kind: "progress",
          runbook: runbook.name,
          runId,
          stack: input.outputs.stack,
          subject: `[eventchain-dr] ${subject}`,
          message,
        },
        ctx.log,
      );
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
  return { ctx, applyOutputs };
}
