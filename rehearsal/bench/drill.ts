/**
 * The drill, end to end, exactly as a user runs it: `npm run drill` in a child process with
 * `--json`, so its report's phases — and its estimate beside what it achieved — can be read. The
 * wall time includes npm and Node start-up: that is what the user waits.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import type { Case, RunOutput } from "./harness.ts";

interface DrillJson {
  verdict: string;
  phases: { name: string; seconds: number; ok: boolean }[];
  rto?: {
    readyForWritesSeconds: number;
    achievedSeconds: number;
    estimateReadyForWritesSeconds: number | null;
    estimateSeconds: number | null;
    ratio: number | null;
    range?: { seconds: number; low: number; high: number } | null;
  } | null;
  machine?: { cpus: number; loadAverage: number[] | null } | null;
  rpo?: {
    achievedSeconds: number;
    estimateSeconds: number | null;
    worstCaseSeconds: number | null;
    ratio: number | null;
  } | null;
  crash?: { acknowledged: number; lost: number } | null;
  measured?: { databaseBytes: number } | null;
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

/** Pure: the numbers of a drill report the bench keeps (estimate and achieved, side by side). */
export function drillMetrics(r: DrillJson): Record<string, number> {
  const out: Record<string, number> = { phases: r.phases.length };
  const put = (k: string, v: number | null | undefined) => {
    if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  };
  put("rtoEstimate", r.rto?.estimateSeconds);
  put("rtoAchieved", r.rto?.achievedSeconds);
  put("rtoRatio", r.rto?.ratio);
  put("readyEstimate", r.rto?.estimateReadyForWritesSeconds);
  put("readyAchieved", r.rto?.readyForWritesSeconds);
  put("rpoEstimate", r.rpo?.estimateSeconds);
  put("rpoAchieved", r.rpo?.achievedSeconds);
  put("rpoRatio", r.rpo?.ratio);
  put("rpoWorstCase", r.rpo?.worstCaseSeconds);
  put("acknowledged", r.crash?.acknowledged);
  put("lost", r.crash?.lost);
  put("databaseBytes", r.measured?.databaseBytes);
  put("rangeLow", r.rto?.range?.low);
  put("rangeHigh", r.rto?.range?.high);
  const load = r.machine?.loadAverage?.[0];
  if (load !== undefined && r.machine?.cpus) put("loadPerCore", load / r.machine.cpus);
  return out;
}

export function drillCase(
  cwd: string,
  o: { id?: string; label?: string; args?: string[]; keepReportsIn?: string } = {},
): Case {
  let stateDir: string | undefined;
  return {
    id: o.id ?? "ours.drill",
    label: o.label ?? "npm run drill (default scale)",
    prepare: async () => {
      stateDir = await mkdtemp(join(tmpdir(), "eventchain-bench-drill-"));
    },
    run: async (): Promise<RunOutput> => {
      const r = await $({
        quiet: true,
        nothrow: true,
        cwd,
      })`npm run --silent drill -- --json --state-dir ${stateDir!} ${o.args ?? []}`;
      // A missed objective (exit 3) is still a measurement: the drill recovered and verified.
      if (r.exitCode !== 0 && r.exitCode !== 3)
        throw new Error(`npm run drill exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
      const report = parseDrillReport(r.stdout);
      if (o.keepReportsIn) {
        await mkdir(o.keepReportsIn, { recursive: true });
        const id = (JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { runId: string }).runId;
        await writeFile(join(o.keepReportsIn, `${id}.json`), r.stdout.slice(r.stdout.indexOf("{")));
      }
      const phases: Record<string, number> = {};
      for (const p of report.phases) phases[p.name] = (phases[p.name] ?? 0) + p.seconds;
      return { phases, metrics: drillMetrics(report) };
    },
    cleanup: async () => {
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
