/**
 * Every runbook in runbooks/, and the steps of each of its shapes: a runbook whose steps depend on
 * its options (backup-redis with or without --host, dr-test per --mode, service-recovery per
 * service) is listed once per shape, against the sample outputs of its stack.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnyStep, RawOptions, Runbook } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";

export const RUNBOOKS_DIR = fileURLToPath(new URL("../../runbooks/", import.meta.url));

export const runbooks: Runbook<any>[] = (
  await Promise.all(
    readdirSync(RUNBOOKS_DIR)
      .filter((f) => f.endsWith(".ts"))
      .sort()
      .map(async (f) => ((await import(join(RUNBOOKS_DIR, f))) as { runbook?: Runbook<any> }).runbook),
  )
).filter((r): r is Runbook<any> => r !== undefined);

export const runbookNamed = (name: string): Runbook<any> => {
  const r = runbooks.find((x) => x.name === name);
  if (!r)
    throw new Error(
      `no runbook named "${name}" in runbooks/: expected one of ${runbooks.map((x) => x.name).join(", ")}`,
    );
  return r;
};

/** The options that select each shape of a runbook whose steps depend on them (the flags given). */
export const SHAPES: Record<string, RawOptions[]> = {
  "backup-redis": [{}, { host: "redis.internal" }],
  "dr-test": [
    { mode: "database" },
    { mode: "application", "app-database-host": "restored.internal" },
    { mode: "full", "app-database-host": "restored.internal" },
  ],
  "service-recovery": [{ all: true }],
};

/** A runbook's steps for the options given (parsed as the CLI parses them) on the sample stack. */
export function stepsOf(runbook: Runbook<any>, given: RawOptions = {}, stack: "prod" | "dr" = "prod"): AnyStep<any>[] {
  if (typeof runbook.steps !== "function") return runbook.steps;
  const raw = { ...Object.fromEntries(Object.keys(runbook.options ?? {}).map((k) => [k, undefined])), ...given };
  const options = runbook.parseOptions ? runbook.parseOptions(raw) : raw;
  return runbook.steps(options, sampleOutputs(stack));
}

/** Every shape of every runbook: a label and its steps. */
export const shapes = (): { runbook: Runbook<any>; label: string; steps: AnyStep<any>[] }[] =>
  runbooks.flatMap((runbook) =>
    (typeof runbook.steps === "function" ? (SHAPES[runbook.name] ?? [{}]) : [{}]).map((given) => ({
      runbook,
      label: Object.keys(given).length ? `${runbook.name} ${JSON.stringify(given)}` : runbook.name,
      steps: stepsOf(runbook, given),
    })),
  );
