/** Step ordering: validates ids and dependencies (always explicit, by handle). */
import type { AnyStep } from "./types.ts";

const STEP_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Each step's prerequisites, by id. Throws on a bad id, a missing `dependsOn` or a later/unknown step. */
export function resolveDependencies<O>(steps: AnyStep<O>[]): Map<string, string[]> {
  const seen = new Set<string>();
  const deps = new Map<string, string[]>();
  for (const step of steps) {
    if (!STEP_ID.test(step.id)) throw new Error(`step id "${step.id}" is invalid: expected kebab-case (a-z, 0-9, "-")`);
    if (seen.has(step.id)) throw new Error(`step id "${step.id}" is used twice`);
    if (!Array.isArray(step.dependsOn)) {
      throw new Error(`step "${step.id}" has no dependsOn: list the steps it needs by handle ([] for none)`);
    }
    const d = step.dependsOn.map((ref) => ref.id);
    for (const dep of d) {
      if (!seen.has(dep)) throw new Error(`step "${step.id}" depends on "${dep}", which is not an earlier step`);
    }
    seen.add(step.id);
    deps.set(step.id, d);
  }
  return deps;
}

/** Every step `id` depends on, directly or not. */
export function ancestorsOf(deps: Map<string, string[]>, id: string): Set<string> {
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
