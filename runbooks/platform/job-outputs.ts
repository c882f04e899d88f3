/**
 * The ECS init container of every backup job: writes the stack outputs the task definition
 * carries (`EVENTCHAIN_OUTPUTS_JSON`) to `/etc/eventchain-dr/outputs.json`, where the job reads
 * them, as a Kubernetes ConfigMap mount would. Outputs that do not match the contract stop the
 * task here, before the job runs (the task's non-zero exit alerts; the heartbeat stays absent).
 *
 *   node runbooks/platform/job-outputs.ts [--dir <directory>]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseStackOutputs } from "../../contract/stack-outputs.ts";
import { JOB_OUTPUTS_DIR, JOB_OUTPUTS_ENV as OUTPUTS_ENV, JOB_OUTPUTS_KEY } from "../../contract/jobs.ts";

/** Validates the outputs in `env` and writes them into `dir`; returns the file written. */
export function writeJobOutputs(env: NodeJS.ProcessEnv, dir: string): string {
  const text = env[OUTPUTS_ENV];
  if (!text) throw new Error(`${OUTPUTS_ENV} is not set: the task definition must carry the stack outputs`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${OUTPUTS_ENV} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const outputs = parseStackOutputs(raw, OUTPUTS_ENV);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, JOB_OUTPUTS_KEY);
  writeFileSync(file, JSON.stringify(outputs, null, 2), { mode: 0o444 });
  return file;
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({ options: { dir: { type: "string" } }, strict: true });
    const file = writeJobOutputs(process.env, values.dir ?? JOB_OUTPUTS_DIR);
    process.stdout.write(`stack outputs written to ${file}\n`);
  } catch (error) {
    process.stderr.write(`job outputs: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}
