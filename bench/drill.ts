/**
 * The drill, end to end, exactly as a user runs it: `npm run drill` (developer C's
 * runbooks/drill.ts) at its default scale, in a child process, with `--json` so its report's
 * phases can be read. The wall time includes npm and tsx start-up: that is what the user waits.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import type { Case, RunOutput } from "./harness.ts";

interface DrillJson {
  verdict: string;
  phases: { name: string; seconds: number; ok: boolean }[];
}

/** Reads the drill's JSON report from its stdout (the last top-level JSON object printed). */
export function parseDrillReport(stdout: string): DrillJson {
  const start = stdout.indexOf("{");
  if (start === -1) throw new Error("the drill printed no JSON report");
  const doc = JSON.parse(stdout.slice(start)) as Partial<DrillJson>;
  if (typeof doc.verdict !== "string" || !Array.isArray(doc.phases))
    throw new Error("the drill's JSON report has no verdict or phases");
  return doc as DrillJson;
}

export function drillCase(cwd: string): Case {
  let stateDir: string | undefined;
  return {
    id: "ours.drill",
    label: "npm run drill (default scale)",
    prepare: async () => {
      stateDir = await mkdtemp(join(tmpdir(), "eventchain-bench-drill-"));
    },
    run: async (): Promise<RunOutput> => {
      const r = await $({ quiet: true, nothrow: true, cwd })`npm run --silent drill -- --json --state-dir ${stateDir!}`;
      if (r.exitCode !== 0)
        throw new Error(`npm run drill exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
      const report = parseDrillReport(r.stdout);
      const phases: Record<string, number> = {};
      for (const p of report.phases) phases[p.name] = (phases[p.name] ?? 0) + p.seconds;
      return { phases, metrics: { phases: report.phases.length } };
    },
    cleanup: async () => {
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
