/**
 * Gates by construction: a step that moves traffic or destroys something runs only after every
 * check (a `gate` step) listed before it — it depends on each, directly or through the steps it
 * depends on, so the engine re-checks each right before it (engine.ts, `GATE_MAX_AGE_MS`) — and
 * a step that no check gates says why in `ungated`. `gateProblems` finds what breaks either rule;
 * test/runbooks/gates.test.ts runs it over every runbook, so adding a check to a runbook and
 * forgetting to make its switch depend on it fails the suite.
 */
import { ancestorsOf, resolveDependencies } from "./plan.ts";
import type { AnyStep } from "./types.ts";

/** Moves traffic or deletes/overwrites something: it asks for confirmation and must be gated. */
export const acts = (step: AnyStep<any>): boolean => step.destructive === true || step.movesTraffic === true;

const does = (step: AnyStep<any>) => (step.movesTraffic ? "moves traffic" : "is destructive");
const quoted = (steps: AnyStep<any>[]) => steps.map((s) => `"${s.id}"`).join(", ");

/** One sentence per problem, naming the step, the gate and the fix; [] when every gate is in place. */
export function gateProblems<O>(steps: AnyStep<O>[]): string[] {
  const deps = resolveDependencies(steps);
  const problems: string[] = [];
  steps.forEach((step, i) => {
    if (!acts(step)) {
      if (step.ungated !== undefined)
        problems.push(
          `step "${step.id}" says why it needs no gate, but it neither moves traffic nor is destructive: remove ungated`,
        );
      return;
    }
    const before = ancestorsOf(deps, step.id);
    const gates = steps.slice(0, i).filter((s) => s.gate);
    for (const gate of gates.filter((g) => !before.has(g.id)))
      problems.push(
        `step "${step.id}" ${does(step)} but does not depend on the gate "${gate.id}" listed before it: add ` +
          `"${gate.id}" to its dependsOn (or to a step it depends on), or list "${gate.id}" after it when it ` +
          `gates nothing there`,
      );
    const gatedBy = gates.filter((g) => before.has(g.id));
    if (gatedBy.length === 0 && !step.ungated?.trim())
      problems.push(
        `step "${step.id}" ${does(step)} but no gate precedes it: make it depend on a check marked gate: true, or say in ungated why it needs none`,
      );
    if (gatedBy.length > 0 && step.ungated !== undefined)
      problems.push(
        `step "${step.id}" says it needs no gate, yet depends on the gate(s) ${quoted(gatedBy)}: remove ungated`,
      );
  });
  return problems;
}
