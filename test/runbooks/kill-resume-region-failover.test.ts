/**
 * region-failover killed with SIGKILL right after each of its steps in turn (k = 1…N, the steps
 * as the runbook lists them) and resumed from another state directory as another machine: every
 * time it finishes with the same AWS state as a run that was never interrupted, and no step the
 * killed process had finished runs again. One emulator for the file.
 */
import test from "ava";
import { runbook } from "../../runbooks/region-failover.ts";
import { useSeededMoto } from "../helpers/moto.ts";
import { workspace } from "../helpers/run-runbook.ts";
import { failOver, primaryDown, proxyFor } from "../helpers/failed-over.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { comparableState, killedAfterEachStep, stepsOf } from "../helpers/kill-resume.ts";

const m = useSeededMoto(test);
const { moto, seeded } = m;
let reference: Record<string, unknown> | undefined;

test.serial("uninterrupted, the failover ends in the reference state", async (t) => {
  await failOver(t, m);
  reference = await comparableState(m);
});

killedAfterEachStep(test, {
  runbook,
  steps: stepsOf(runbook),
  name: "failover",
  // The primary is down throughout: it cannot be fenced, so the run ends with that caveat (exit 5).
  exitCode: EXIT.succeededWithCaveat,
  runId: (k) => `kill-${k}`,
  args: ["--health-attempts", "1"],
  reference: () => reference,
  prepare: async (t) => {
    const ws = workspace(t);
    const proxy = await proxyFor(t, moto().endpoint, primaryDown);
    return { proxy, rule: primaryDown, outputs: ws.writeOutputs(seeded().file) };
  },
  state: () => comparableState(m),
  also: (t, { resumed }) =>
    t.regex(
      resumed.stderr,
      /TAKING OVER the run lock of the "traffic" scope on stacks dr\+prod from region-failover run kill-\d+ \(stack prod\) on host /,
    ),
});
