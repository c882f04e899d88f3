/**
 * A runbook's steps as the Markdown table its page in runbooks/docs/ shows: id, title, what each
 * waits for, and what kind of step it is. Pure; the pages are checked against it
 * (test/runbooks/step-lists.test.ts) and rewritten from it (`npm run docs:steps`).
 */
import type { AnyStep } from "./types.ts";

/** What kind of step this is, as the page says it: gate, read-only, asks for confirmation. */
function kindOf(step: AnyStep<any>): string {
  const kinds: string[] = [];
  if (step.gate) kinds.push(step.readOnly ? "gate (an assessment: runs before the preflight)" : "gate");
  else if (step.readOnly) kinds.push("read-only (runs in --dry-run too)");
  if (step.movesTraffic) kinds.push("moves traffic: asks first");
  if (step.destructive) kinds.push("destructive: asks first");
  if (step.ungated) kinds.push(`needs no gate: ${step.ungated}`);
  return kinds.join("; ");
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();

/** The table, one row per step in the runbook's order; ends with a newline. */
export function stepListMarkdown(steps: AnyStep<any>[]): string {
  const rows = steps.map((step, i) => {
    const after = step.dependsOn.map((d) => `\`${d.id}\``).join(", ") || "—";
    return `| ${i + 1} | \`${step.id}\` | ${cell(step.title)} | ${after} | ${cell(kindOf(step))} |`;
  });
  return ["| # | step | what it does | after | kind |", "|---|---|---|---|---|", ...rows].join("\n") + "\n";
}
