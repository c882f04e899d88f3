/**
 * The critical path of a runbook run: the longest chain of step durations through the steps'
 * dependencies (the engine's rule: a step without `dependsOn` depends on the previous step;
 * `dependsOn: []` on nothing). A runbook that runs independent steps side by side and adds
 * nothing between them finishes in about its critical path; the excess is overhead.
 */

export interface TimedStep {
  id: string;
  /** Measured duration of the step, in seconds. */
  seconds: number;
  /** As in the engine's Step; undefined = the previous step in the list. */
  dependsOn?: string[];
}

export interface CriticalPath {
  seconds: number;
  /** Step ids along the path, first to last. */
  path: string[];
  /** Sum of every step's duration (what a strictly sequential run would take). */
  sequentialSeconds: number;
}

/**
 * @throws Error naming the step when a dependency is unknown or the graph has a cycle.
 */
export function criticalPath(steps: readonly TimedStep[]): CriticalPath {
  const byId = new Map(steps.map((s, i) => [s.id, { step: s, index: i }]));
  const deps = (s: TimedStep, i: number): string[] => s.dependsOn ?? (i > 0 ? [steps[i - 1]!.id] : []);
  const finish = new Map<string, { at: number; via: string | null }>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = finish.get(id);
    if (known) return known.at;
    const entry = byId.get(id);
    if (!entry) throw new Error(`unknown step "${id}" in dependsOn: expected one of ${[...byId.keys()].join(", ")}`);
    if (visiting.has(id)) throw new Error(`dependency cycle through step "${id}"`);
    visiting.add(id);
    let start = 0;
    let via: string | null = null;
    for (const d of deps(entry.step, entry.index)) {
      const at = visit(d);
      if (via === null || at > start) {
        start = at;
        via = d;
      }
    }
    visiting.delete(id);
    const at = start + entry.step.seconds;
    finish.set(id, { at, via });
    return at;
  };
  let end = 0;
  let last: string | null = null;
  for (const s of steps) {
    const at = visit(s.id);
    if (at > end || last === null) {
      end = at;
      last = s.id;
    }
  }
  const path: string[] = [];
  for (let id = last; id !== null; id = finish.get(id)!.via) path.unshift(id);
  return { seconds: end, path, sequentialSeconds: steps.reduce((a, s) => a + s.seconds, 0) };
}

/** Overhead of a run over its critical path, in percent. */
export function overheadPercent(totalSeconds: number, critical: number): number {
  if (!(critical > 0)) throw new Error(`critical path ${critical} s is not allowed: expected a positive duration`);
  return ((totalSeconds - critical) / critical) * 100;
}
