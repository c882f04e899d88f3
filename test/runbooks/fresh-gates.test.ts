/**
 * A resumed region-failover never moves traffic on a stale check: the checks that gate the DNS
 * move (primary assessment, database available, targets healthy) are re-run right before it.
 * And a step stopped half-way is finished on resume, not skipped: the application's secret
 * already points at the new database, but the services were not rolled onto it yet.
 */
import test, { type ExecutionContext } from "ava";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { runbook } from "../../runbooks/region-failover.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { DR_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture, startFaultProxy } from "../helpers/fault-proxy.ts";
import { primaryDown } from "../helpers/failed-over.ts";

const { moto, seeded, state } = useSeededMoto(test);

async function setup(t: ExecutionContext) {
  const ws = workspace(t);
  const proxy = await startFaultProxy(moto().endpoint, primaryDown);
  t.teardown(() => proxy.close());
  return {
    ws,
    proxy,
    base: ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir],
  };
}

test.serial("targets that turned unhealthy while the run was stopped keep DNS where it is on resume", async (t) => {
  const { ws, proxy, base } = await setup(t);
  const stopped = await runRunbook(runbook, [...base, "--run-id", "stale-1", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(stopped.exitCode, EXIT.stopped, "stopped before moving DNS (no --yes)");
  t.is(ws.journal("stale-1").steps["verify-targets"]!.status, "succeeded", "targets were healthy then");
  const before = await state();
  // While nobody watched, the DR targets went unhealthy.
  proxy.setRule((r) =>
    r.action === "DescribeTargetHealth"
      ? { status: 200, body: fixture("elbv2-describe-target-health-unhealthy.xml") }
      : primaryDown(r),
  );
  const resumed = await runRunbook(runbook, [...base, "--resume", "stale-1", "--yes"], { aws: awsFor(proxy.endpoint) });
  t.is(resumed.exitCode, EXIT.failed);
  t.regex(
    resumed.stdout,
    /FAILED at step "engage-switch": gate "verify-targets" re-checked before this step failed: target health not reached after 1 check\(s\)/,
  );
  t.regex(resumed.stderr, /re-checking "assess-primary" right before "engage-switch"/);
  t.regex(resumed.stderr, /re-checking "wait-database" right before "engage-switch"/);
  t.deepEqual(await state(), before, "DNS not moved, nothing else changed");
});

test.serial(
  "a primary that came back while the run was stopped is not failed over on resume without --force",
  async (t) => {
    const { proxy, base } = await setup(t);
    await runRunbook(runbook, [...base, "--run-id", "stale-2", "--health-attempts", "1"], {
      aws: awsFor(proxy.endpoint),
    });
    const before = await state();
    proxy.setRule(() => undefined); // the primary region answers again
    const resumed = await runRunbook(runbook, [...base, "--resume", "stale-2", "--yes"], {
      aws: awsFor(proxy.endpoint),
    });
    t.is(resumed.exitCode, EXIT.failed, "the restore already happened: a failure to resume from, not bad input");
    t.regex(
      resumed.stdout,
      /gate "assess-primary" re-checked before this step failed: the primary region us-east-1 looks healthy .*Pass --force.*resume: .* --resume stale-2/,
    );
    t.deepEqual(await state(), before);
    const forced = await runRunbook(runbook, [...base, "--resume", "stale-2", "--yes", "--force"], {
      aws: awsFor(proxy.endpoint),
    });
    t.is(forced.exitCode, EXIT.succeeded, forced.stdout);
  },
);

test.serial("a resume finishes a step stopped between pointing the secret and rolling the services", async (t) => {
  const { ws, proxy, base } = await setup(t);
  // The roll onto the new secret fails (a non-retryable error) after the secret was updated.
  proxy.setRule((r) =>
    r.action === "UpdateService" && r.region === DR_REGION && r.body.includes('"forceNewDeployment":true')
      ? {
          status: 400,
          contentType: "application/x-amz-json-1.1",
          headers: { "x-amzn-errortype": "AccessDeniedException" },
          body: '{"__type":"AccessDeniedException","message":"not allowed (injected)"}',
        }
      : primaryDown(r),
  );
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "half-1", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(first.exitCode, EXIT.failed);
  t.is(first.report?.failure?.stepId, "point-dr-app");
  const ecs = new ECSClient({ region: DR_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
  const deployments = async () =>
    (
      await ecs.send(
        new DescribeServicesCommand({
          cluster: seeded().dr.services.clusterName,
          services: seeded().dr.services.services.map((s) => s.name),
        }),
      )
    ).services!.map((s) => s.deployments!.find((d) => d.status === "PRIMARY")!.id);
  const notRolled = await deployments();
  t.regex(
    JSON.stringify((await state())["dr.secret"]),
    /eventchain-dr-db\./,
    "the secret already names the DR database",
  );
  proxy.setRule(primaryDown);
  const resumed = await runRunbook(runbook, [...base, "--resume", "half-1", "--yes"], { aws: awsFor(proxy.endpoint) });
  t.is(resumed.exitCode, EXIT.succeededWithCaveat, resumed.stdout);
  t.is(ws.journal("half-1").steps["point-dr-app"]!.status, "succeeded", "run again, not skipped as already done");
  const rolled = await deployments();
  for (const [i, id] of rolled.entries()) t.not(id, notRolled[i], "each service rolled onto the new secret");
  t.is(proxy.seen.filter((r) => r.action === "PutSecretValue").length, 1, "the secret was not written again");
});
