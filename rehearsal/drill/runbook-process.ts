/**
 * Runs one of our runbooks as an SRE does — its own process (`node runbooks/<name>.ts … --json`)
 * — with an environment the drill builds explicitly (the drill's own process environment is
 * never changed). Reads the runbook's NDJSON events as they come, so the drill can act on a step
 * finishing (e.g. start verifying once the recovered server takes writes), and returns its exit
 * code, report and journal. Ctrl-C reaches it through the terminal's process group; an abort of
 * the drill sends it SIGINT (it stops after its current step, journal kept).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { JournalData } from "../../runbooks/lib/journal.ts";
import { newRunId } from "../../runbooks/lib/journal.ts";
import type { Report } from "../../runbooks/lib/recovery-report.ts";
import type { StepRef } from "../../runbooks/lib/types.ts";
import type { Log } from "./phase.ts";

export interface RunbookEvent {
  at: string;
  event: string;
  step?: string;
  title?: string;
  note?: string;
  message?: string;
}

export interface RunbookRun {
  runbook: string;
  runId: string;
  exitCode: number;
  message: string;
  report: Report | null;
  journal: JournalData | null;
  reportMarkdown: string | null;
}

const RUNBOOKS_DIR = fileURLToPath(new URL("../../runbooks/", import.meta.url));

/** Variables a child must not inherit: credentials and connections come from the drill only. */
const INHERITED_NOT = /^(AWS_|PG(?!_BINDIR)|REDISCLI_AUTH$|SLACK_WEBHOOK_URL$)/;

/** Pure: the child's environment: ours without credentials or connections, plus `extra`. */
export function childEnvironment(base: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !INHERITED_NOT.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export async function runRunbookProcess(
  runbook: string,
  args: string[],
  o: {
    env: Record<string, string>;
    stateDir: string;
    log: Log;
    signal?: AbortSignal;
    /** Default: a new one; give it to read the journal while the runbook runs. */
    runId?: string;
    onEvent?: (e: RunbookEvent) => void;
  },
): Promise<RunbookRun> {
  const runId = o.runId ?? newRunId(runbook);
  const file = join(RUNBOOKS_DIR, `${runbook}.ts`);
  const child = spawn(process.execPath, [file, ...args, "--json", "--state-dir", o.stateDir, "--run-id", runId], {
    env: o.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const abort = () => child.kill("SIGINT");
  o.signal?.addEventListener("abort", abort, { once: true });
  let result: (RunbookEvent & { exitCode?: number; report?: Report }) | undefined;
  const started = new Map<string, number>();
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on("line", (l) => {
    stderr.push(l);
    if (stderr.length > 20) stderr.shift();
  });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    let e: RunbookEvent & { exitCode?: number; report?: Report };
    try {
      e = JSON.parse(line);
    } catch {
      if (line.trim()) o.log(`    [${runbook}] ${line}`);
      return;
    }
    if (e.event === "result") result = e;
    else if (e.event === "step_started" && e.step) started.set(e.step, Date.parse(e.at));
    else if (e.event?.startsWith("step_") && e.step) {
      const t0 = started.get(e.step);
      const took = t0 ? ` (${((Date.parse(e.at) - t0) / 1000).toFixed(1)} s)` : "";
      const icon = e.event === "step_succeeded" ? "✔" : e.event === "step_skipped" ? "↷" : "✖";
      o.log(`    [${runbook}] ${icon} ${e.title}${took}${e.note ? `: ${e.note}` : ""}`);
    } else if (e.message) o.log(`    [${runbook}] ${e.message}`);
    o.onEvent?.(e);
  });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, sig) => resolve(code ?? (sig ? 130 : 1)));
  }).finally(() => o.signal?.removeEventListener("abort", abort));
  const dir = join(o.stateDir, runId);
  const journalFile = join(dir, "journal.json");
  const mdFile = join(dir, "report.md");
  return {
    runbook,
    runId,
    exitCode,
    message: result?.message ?? stderr.join("\n").trim(),
    report: result?.report ?? null,
    journal: existsSync(journalFile) ? (JSON.parse(readFileSync(journalFile, "utf8")) as JournalData) : null,
    reportMarkdown: existsSync(mdFile) ? mdFile : null,
  };
}

/** Outputs of a step from the journal on disk (written atomically by the runbook) while it runs. */
export function stepOutputsNow<R extends object>(stateDir: string, runId: string, step: StepRef<R>): R | undefined {
  const file = join(stateDir, runId, "journal.json");
  if (!existsSync(file)) return undefined;
  const journal = JSON.parse(readFileSync(file, "utf8")) as JournalData;
  return journal.steps[step.id]?.outputs as R | undefined;
}
