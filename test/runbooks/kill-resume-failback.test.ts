/**
 * failback killed with SIGKILL right after each of its steps in turn (k = 1…N, the steps as the
 * runbook lists them) and resumed from another state directory as another machine: every time it
 * finishes with the same AWS state as a failback that was never interrupted, and no step the
 * killed process had finished runs again. Each case starts from a completed failover. One
 * emulator for the file.
 */
import test from "ava";
import { runbook } from "../../runbooks/failback.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook } from "../helpers/run-runbook.ts";
import type { Rule } from "../helpers/fault-proxy.ts";
import { failOver, proxyFor } from "../helpers/failed-over.ts";
import { comparableState, killedAfterEachStep, stepsOf } from "../helpers/kill-resume.ts";

const m = useSeededMoto(test);
const { moto } = m;
let reference: Record<string, unknown> | undefined;

test.serial("uninterrupted, the failback ends in the reference state", async (t) => {
  const { ws, file } = await failOver(t, m);
  // Through the proxy: it stands in for CloudWatch evaluating the switch alarm (moto does not).
  const up = await proxyFor(t, moto().endpoint);
  const res = await runRunbook(
    runbook,
    [
      "--outputs",
      file,
      "--stack",
      "prod",
      "--state-dir",
      ws.stateDir,
      "--writes-stopped",
      "--yes",
      "--health-attempts",
      "1",
    ],
    { aws: awsFor(up.endpoint) },
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  reference = await comparableState(m);
});

const healthy: Rule = () => undefined;

killedAfterEachStep(test, {
  runbook,
  steps: stepsOf(runbook, { "writes-stopped": true }),
  name: "failback",
  runId: (k) => `kill-fb-${k}`,
  args: ["--writes-stopped", "--health-attempts", "1"],
  reference: () => reference,
  prepare: async (t) => {
    const { file } = await failOver(t, m);
    const proxy = await proxyFor(t, moto().endpoint);
    return { proxy, rule: healthy, outputs: file };
  },
  state: () => comparableState(m),
});
