/** Step ordering: validates ids and dependencies and resolves the default sequence. */
import type { Step } from "./types.ts";

const STEP_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Each step's prerequisites, with the default (previous step) applied. */
export function resolveDependencies<O>(steps: Step<O>[]): Map<string, string[]> {
  const seen = new Set<string>();
  const deps = new Map<string, string[]>();
  steps.forEach((step, i) => {
    if (!STEP_ID.test(step.id)) throw new Error(`step id "${step.id}" is invalid: expected kebab-case (a-z, 0-9, "-")`);
    if (seen.has(step.id)) throw new Error(`step id "${step.id}" is used twice`);
    const d = step.dependsOn ?? (i > 0 ? [steps[i - 1]!.id] : []);
    for (const dep of d) {
      if (!seen.has(dep)) throw new Error(`step "${step.id}" depends on "${dep}", which is not an earlier step`);
    }
    seen.add(step.id);
    deps.set(step.id, d);
  });
  return deps;
}
