/**
 * Step results are typed by the step's handle: a renamed step, a changed result type or a step
 * without `dependsOn` fails `tsc`; at run time the engine refuses a step that reads the result
 * of a step it does not depend on.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { stepFor, type Runbook } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string) => join(root, "test/fixtures/typecheck", name);

/** Type-checks one fixture with the project's compiler options; returns tsc's diagnostics. */
async function typecheck(t: { teardown(fn: () => void): void }, file: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "typed-steps-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, "tsconfig.json");
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(root, "tsconfig.json"),
      compilerOptions: { typeRoots: [join(root, "node_modules/@types")] },
      files: [file],
      include: [],
    }),
  );
  const tsc = join(root, "node_modules/.bin/tsc");
  try {
    await promisify(execFile)(tsc, ["--noEmit", "-p", config], { cwd: root });
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

test("a step that reads another's result through its handle type-checks", async (t) => {
  t.is(await typecheck(t, fixture("steps-ok.ts")), "");
});

test("changing what a step returns fails tsc where its result is read", async (t) => {
  const out = await typecheck(t, fixture("steps-changed-result.ts"));
  t.regex(out, /steps-changed-result\.ts\(19,\d+\): error TS2339: Property 'targetId' does not exist/);
});

test("renaming a step fails tsc at every reader, and a step id string is no handle", async (t) => {
  const out = await typecheck(t, fixture("steps-renamed.ts"));
  t.regex(out, /steps-renamed\.ts\(20,\d+\): error TS2304: Cannot find name 'pick'/);
  t.regex(out, /steps-renamed\.ts\(28,\d+\): error TS2345: Argument of type 'string' is not assignable/);
});

test("a step without dependsOn fails tsc: nothing depends on the previous step by default", async (t) => {
  const out = await typecheck(t, fixture("steps-no-depends-on.ts"));
  t.regex(out, /steps-no-depends-on\.ts\(\d+,\d+\): error TS2345: .*Property 'dependsOn' is missing/s);
});

test("the engine refuses a step that reads a result it does not depend on, naming both", async (t) => {
  const step = stepFor<Record<string, never>>();
  const pick = step({
    id: "pick",
    title: "Pick",
    dependsOn: [],
    describe: () => [],
    run: async () => ({ targetId: "db-1" }),
  });
  const restore = step({
    id: "restore",
    title: "Restore",
    dependsOn: [pick],
    describe: () => [],
    run: async () => ({ restored: true }),
  });
  const report = step({
    id: "report",
    title: "Report",
    dependsOn: [restore],
    describe: () => [],
    run: async (ctx) => ({ target: ctx.result(pick).targetId }),
  });
  const runbook: Runbook<Record<string, never>> = {
    name: "typed",
    summary: "reads a result it does not depend on",
    system: "primary-database",
    steps: [pick, restore, report],
  };
  const ws = workspace(t);
  const outputsFile = ws.writeOutputs({ prod: sampleOutputs("prod") });
  const res = await runRunbook(runbook, [
    "--outputs",
    outputsFile,
    "--stack",
    "prod",
    "--state-dir",
    ws.stateDir,
    "--yes",
    "--run-id",
    "r1",
  ]);
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.message,
    /step "report" reads the result of step "pick", which it does not depend on: add it to the dependsOn of "report"/,
  );
  t.is(res.report?.failure?.stepId, "report");
  t.is(ws.journal("r1").steps.report?.status, "failed");
});
