/** `--dry-run`: prints every step's planned actions; runs only read-only steps (and the preflight); writes nothing. */
import { BadInputError, EXIT, errorMessage, type ExitCode } from "./errors.ts";
import type { Printer } from "./printer.ts";
import type { AnyStep, PlannedAction, RunContext, StepOutputs } from "./types.ts";

export interface PlanEntry {
  id: string;
  title: string;
  dependsOn: string[];
  flags: string[];
  actions: PlannedAction[];
  /** Read-only steps run under --dry-run; their outputs. */
  outputs?: StepOutputs;
}

export const flagsOf = <O>(s: AnyStep<O>) =>
  [s.readOnly && "read-only", s.destructive && "destructive", s.movesTraffic && "moves traffic"].filter(
    Boolean,
  ) as string[];

export interface DryRunResult {
  exitCode: ExitCode;
  message: string;
  plan: PlanEntry[];
}

/** Steps in list order (a valid dependency order); a read-only step's BadInputError propagates (exit 2). */
export async function dryRun<O>(
  steps: AnyStep<O>[],
  deps: Map<string, string[]>,
  ctx: RunContext<O>,
  forStep: (stepId: string, dependsOn: readonly string[]) => RunContext<O>,
  applyOutputs: (id: string, o: StepOutputs) => void,
  printer: Printer,
  /** Runs before each step is planned (the preflight, once, before the first non-assessment); throws to refuse. */
  beforeStep: (step: AnyStep<O>) => Promise<void> = async () => undefined,
): Promise<DryRunResult> {
  const plan: PlanEntry[] = [];
  printer.info(
    `DRY RUN of ${ctx.runbook} on stack ${ctx.outputs.stack} (${ctx.outputs.region}): nothing will be changed.`,
  );
  for (const step of steps) {
    const stepCtx = forStep(step.id, deps.get(step.id)!);
    let outputs: StepOutputs | undefined;
    await beforeStep(step);
    if (step.readOnly) {
      try {
        const result: StepOutputs = await step.run(stepCtx);
        outputs = result;
        applyOutputs(step.id, result);
      } catch (error) {
        if (error instanceof BadInputError) throw error;
        return {
          exitCode: EXIT.failed,
          message: `dry run: read-only step "${step.id}" failed: ${errorMessage(error)}`,
          plan,
        };
      }
    }
    const entry: PlanEntry = {
      id: step.id,
      title: step.title,
      dependsOn: deps.get(step.id)!,
      flags: flagsOf(step),
      actions: await step.describe(stepCtx),
      ...(outputs ? { outputs } : {}),
    };
    plan.push(entry);
    printer.planStep(entry);
  }
  return { exitCode: EXIT.succeeded, message: `dry run complete: ${plan.length} steps planned, nothing changed`, plan };
}
