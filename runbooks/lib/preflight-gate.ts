/**
 * Preflight: before its first change (and in `--dry-run`, and on `--resume`), a runbook checks
 * that everything it will touch exists and is usable. Every check runs (four at a time) and
 * every gap is named, so one run shows all that must be fixed; any gap refuses the run with
 * exit 2 before anything changed.
 */
import pLimit from "p-limit";
import { BadInputError, errorMessage } from "./errors.ts";
import type { PreflightCheck } from "./types.ts";

export interface PreflightResult {
  checked: string[];
  gaps: { what: string; problem: string }[];
}

export async function runPreflight(checks: PreflightCheck[], concurrency = 4): Promise<PreflightResult> {
  const limit = pLimit(concurrency);
  const gaps: PreflightResult["gaps"] = [];
  await Promise.all(
    checks.map((c) =>
      limit(async () => {
        try {
          const problem = await c.check();
          if (typeof problem === "string") gaps.push({ what: c.what, problem });
        } catch (error) {
          gaps.push({ what: c.what, problem: errorMessage(error) });
        }
      }),
    ),
  );
  const order = new Map(checks.map((c, i) => [c.what, i]));
  gaps.sort((a, b) => order.get(a.what)! - order.get(b.what)!);
  return { checked: checks.map((c) => c.what), gaps };
}

/** The refusal of a run whose preflight found gaps (exit 2, nothing changed). */
export class PreflightError extends BadInputError {
  override name = "PreflightError";
  readonly gaps: PreflightResult["gaps"];
  constructor(runbook: string, result: PreflightResult) {
    super(
      `preflight of ${runbook} found ${result.gaps.length} gap(s) in what it would touch; nothing was changed:\n${result.gaps
        .map((g) => `  - ${g.what}: ${g.problem}`)
        .join("\n")}\nFix them (or the stack outputs that name them), then run again.`,
    );
    this.gaps = result.gaps;
  }
}
