/**
 * region-failover killed with SIGKILL right after each of its steps in turn (k = 1…N, the steps
 * as the runbook lists them) and resumed from another state directory as another machine: every
 * time it finishes with the same AWS state as a run that was never interrupted, and no step the
 * killed process had finished runs again. One emulator for the file.
 */
import test from "ava";
import { runbook } from "../../runbooks/region-failover.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { PRIMARY_REGION } from "../../runbooks/local/aws-seed.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { serviceUnavailable, startFaultProxy, type Rule } from "../helpers/fault-proxy.ts";
import { killAfterStepAndResume, normalized, stepsOf } from "../helpers/kill-resume.ts";

const { moto, seeded, state } = useSeededMoto(test);
const primaryDown: Rule = (r) =>
  r.service === "rds" && r.region === PRIMARY_REGION ? serviceUnavailable() : undefined;
const steps = stepsOf(runbook);
let reference: Record<string, unknown> | undefined;

test.serial("uninterrupted, the failover ends in the reference state", async (t) => {
  const ws = workspace(t);
  const proxy = await startFaultProxy(moto().endpoint, primaryDown);
  t.teardown(() => proxy.close());
  const res = await runRunbook(
    runbook,
    [
      "--outputs",
      ws.writeOutputs(seeded().file),
      "--stack",
      "prod",
      "--state-dir",
      ws.stateDir,
      "--yes",
      "--health-attempts",
      "1",
    ],
    { aws: awsFor(proxy.endpoint) },
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  reference = normalized(await state(), { [seeded().prod.dns.primaryHealthCheckId]: "<health check>" });
});

for (const [i, step] of steps.entries()) {
  test.serial(
    `killed after step ${i + 1} of ${steps.length} (${step.id}), resumed elsewhere, it ends the same`,
    async (t) => {
      if (!reference) return t.fail("the uninterrupted run did not finish");
      const ws = workspace(t);
      const proxy = await startFaultProxy(moto().endpoint, primaryDown);
      t.teardown(() => proxy.close());
      const { finishedBeforeKill, resumed, journal } = await killAfterStepAndResume({
        t,
        runbook,
        proxy,
        rule: primaryDown,
        outputs: ws.writeOutputs(seeded().file),
        args: ["--health-attempts", "1"],
        afterStep: step.id,
        runId: `kill-${i + 1}`,
      });
      t.true(finishedBeforeKill.includes(step.id));
      t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout + resumed.stderr);
      t.regex(
        resumed.stderr,
        /TAKING OVER the run lock of the "traffic" scope on stacks dr\+prod from region-failover run kill-\d+ \(stack prod\) on host /,
      );
      for (const id of finishedBeforeKill) t.true(journal.steps[id]!.attempts <= 1, `${id} not run again`);
      // Traffic moved after the kill only on gates re-checked by the resuming machine.
      if (steps.some((s) => s.movesTraffic && !finishedBeforeKill.includes(s.id)))
        for (const gate of steps.filter((s) => s.gate && finishedBeforeKill.includes(s.id)))
          t.regex(resumed.stderr, new RegExp(`re-checking "${gate.id}" right before`), gate.id);
      t.deepEqual(normalized(await state(), { [seeded().prod.dns.primaryHealthCheckId]: "<health check>" }), reference);
    },
  );
}
