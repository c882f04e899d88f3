/** Runs a runbook in-process through the real CLI path, with captured output and a temp state dir. */
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { ExecutionContext } from "ava";
import { main, type CliDeps, type CliResult } from "../../runbooks/lib/cli.ts";
import type { JournalData } from "../../runbooks/lib/journal.ts";
import type { Runbook } from "../../runbooks/lib/types.ts";

export class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

export interface Workspace {
  dir: string;
  stateDir: string;
  /** Writes `{ stackName: outputs }` (or one stack's outputs) and returns the path. */
  writeOutputs(doc: unknown, name?: string): string;
  journal(runId: string): JournalData;
  runIds(): string[];
}

export function workspace(t: ExecutionContext): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "runbook-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "runs");
  return {
    dir,
    stateDir,
    writeOutputs(doc, name = "outputs.json") {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(doc, null, 2));
      return path;
    },
    journal(runId) {
      return JSON.parse(readFileSync(join(stateDir, runId, "journal.json"), "utf8")) as JournalData;
    },
    runIds() {
      return existsSync(stateDir) ? readdirSync(stateDir) : [];
    },
  };
}

export interface RunOutcome extends CliResult {
  stdout: string;
  stderr: string;
}

/** Runs a runbook in-process; `stderr` lets a step read what the run has printed so far. */
export async function runRunbook<O>(
  runbook: Runbook<O>,
  argv: string[],
  { stderr = new Capture(), ...deps }: Omit<CliDeps, "argv" | "stdout" | "stderr"> & { stderr?: Capture } = {},
): Promise<RunOutcome> {
  const stdout = new Capture();
  const result = await main(runbook, { ask: null, ...deps, argv, stdout, stderr });
  return { ...result, stdout: stdout.text, stderr: stderr.text };
}
