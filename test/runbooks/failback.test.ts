/**
 * failback and fence-primary against moto, after a region-failover, with the Route 53 data plane
 * and CloudWatch's alarm evaluation simulated by test/helpers/failover.ts (moto does neither).
 */
import test, { type ExecutionContext } from "ava";
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient } from "@aws-sdk/client-rds";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { regionDown } from "../../rehearsal/stand-ins/aws-proxy.ts";
import { runbook as failover } from "../../runbooks/region-failover.ts";
import { runbook } from "../../runbooks/failback.ts";
import { runbook as fence } from "../../runbooks/fence-primary.ts";
import { FENCE_TAG } from "../../contract/fence-record.ts";
import { liveOf } from "../../runbooks/aws/fencing.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { DR_REGION, PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture, type FaultProxy } from "../helpers/fault-proxy.ts";

const { moto, seeded, proxy, answer, state, engageSwitch } = useFailoverMoto(test);
const c = (region = PRIMARY_REGION) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

const endpointFailing = (r: { service: string; action: string }) =>
  r.service === "route53" && r.action.includes("/status")
    ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
    : undefined;

/**
 * Before each test: the stacks as seeded, then a completed region-failover. With `primaryDown`
 * the primary region refused every call during it (so the primary could not be fenced);
 * otherwise only its endpoint failed its health check.
 */
async function failedOver(
  t: ExecutionContext,
  primaryDown = false,
): Promise<{ base: string[]; p: FaultProxy; ws: ReturnType<typeof workspace> }> {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  const base = ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--primary-timeout-seconds", "2"];
  const p = await proxy(t, primaryDown ? regionDown(PRIMARY_REGION) : endpointFailing);
  const fo = await runRunbook(failover, [...base, "--yes", "--health-attempts", "1"], { aws: awsFor(p.endpoint) });
  // With the primary down it could not be fenced: succeeded with that caveat (exit 5).
  t.is(fo.exitCode, primaryDown ? EXIT.succeededWithCaveat : EXIT.succeeded, fo.stdout);
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase(), "clients on DR after the failover");
  p.setRule(() => undefined);
  return { base, p, ws };
}

const switchState = async () =>
  (
    await new CloudWatchClient(c(DR_REGION)).send(
      new DescribeAlarmsCommand({ AlarmNames: [seeded().dr.failover.switch.alarmName] }),
    )
  ).MetricAlarms![0]!.StateValue;

const prodServices = async () =>
  (
    await new ECSClient(c()).send(
      new DescribeServicesCommand({
        cluster: seeded().prod.services.clusterName,
        services: seeded().prod.services.services.map((s) => s.name),
      }),
    )
  ).services!.map((s) => s.desiredCount);

const groupsOf = async (id: string) =>
  (
    await new RDSClient(c()).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))
  ).DBInstances![0]!.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId);

/** The fence record on the instance (contract/fence-record.ts): who fenced it, or undefined. */
const fencedBy = async (id: string): Promise<string | undefined> =>
  liveOf(
    id,
    (await new RDSClient(c()).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!,
  ).tags[FENCE_TAG.by];

test.serial(
  "fails back: new primary restored from the DR data, app repointed, switch disengaged, clients back per the name servers",
  async (t) => {
    const { ws, base, p } = await failedOver(t);
    const res = await runRunbook(
      runbook,
      [...base, "--writes-stopped", "--yes", "--run-id", "fb1", "--health-attempts", "1"],
      { aws: awsFor(p.endpoint) },
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    const newId = ws.journal("fb1").steps["restore-primary-db"]!.outputs!.instanceIdentifier as string;
    t.regex(newId, /^eventchain-prod-db-fb-\d{14}$/);
    const db = (await new RDSClient(c()).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: newId })))
      .DBInstances![0]!;
    t.is(db.DBSubnetGroup?.DBSubnetGroupName, seeded().prod.database.subnetGroupName);
    t.deepEqual(
      db.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      seeded().prod.database.securityGroupIds,
    );
    const secret = JSON.parse(
      (
        await new SecretsManagerClient(c()).send(
          new GetSecretValueCommand({ SecretId: seeded().prod.database.appConnectionSecretArn }),
        )
      ).SecretString!,
    );
    t.is(secret.host, db.Endpoint?.Address);
    t.is(secret.dbname, "eventchain", "other connection settings are kept");
    t.is(await switchState(), "OK");
    t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase());
    t.deepEqual(await prodServices(), [3, 2]);
    t.deepEqual(
      await groupsOf(SOURCE_DB),
      seeded().prod.failover.fenceSecurityGroupIds,
      "the old primary stays fenced",
    );
    t.regex((await fencedBy(SOURCE_DB)) ?? "", /^region-failover-/, "recorded by the failover, kept by failback");
    t.is(await fencedBy(newId), undefined, "the new primary is not fenced");
    t.like(ws.journal("fb1").steps["enable-primary-alarm"]!.outputs, { actions: "already enabled" });
    const at = (id: string, k: "startedAt" | "endedAt") => Date.parse(res.report!.steps.find((s) => s.id === id)![k]!);
    t.true(at("disengage-switch", "startedAt") >= at("check-primary-endpoint", "endedAt"));
    t.true(at("snapshot-dr-db", "startedAt") >= at("fence-old-primary", "endedAt"), "fenced first");
    t.is(res.report?.verdict, "objectives_met");
    t.regex(res.report!.rpo.source!, /snapshot eventchain-dr-db-failback-\d{14} of eventchain-dr-db/);
    t.regex(res.stdout, /adopt it \(pulumi import/);
  },
);

test.serial("disengages the switch only after the primary passes its endpoint health check", async (t) => {
  const { ws, base, p } = await failedOver(t);
  p.setRule(endpointFailing);
  const res = await runRunbook(
    runbook,
    [...base, "--writes-stopped", "--yes", "--force", "--run-id", "fb3", "--health-attempts", "1"],
    { aws: awsFor(p.endpoint) },
  );
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "check-primary-endpoint": the primary endpoint does not pass its health check .*1\/3 checkers report success.*the switch stays engaged and clients stay on DR/,
  );
  t.false("disengage-switch" in ws.journal("fb3").steps);
  t.is(await switchState(), "ALARM");
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase(), "clients stay on DR");
  // Once the endpoint passes, the same run finishes and moves clients back.
  p.setRule(() => undefined);
  const resumed = await runRunbook(runbook, ["--resume", "fb3", "--state-dir", ws.stateDir, "--yes"], {
    aws: awsFor(p.endpoint),
  });
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
  t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase());
});

test.serial("fences the old primary first when region-failover could not reach it", async (t) => {
  const { ws, base, p } = await failedOver(t, true);
  t.deepEqual(await prodServices(), [3, 2], "the failover could not stop the primary's services");
  t.deepEqual(await groupsOf(SOURCE_DB), seeded().prod.database.securityGroupIds);
  const res = await runRunbook(
    runbook,
    [...base, "--writes-stopped", "--yes", "--run-id", "fb4", "--health-attempts", "1"],
    { aws: awsFor(p.endpoint) },
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.like(ws.journal("fb4").steps["fence-old-primary"]!.outputs, { fenced: true, database: { fencedBy: "fb4" } });
  t.deepEqual(await groupsOf(SOURCE_DB), seeded().prod.failover.fenceSecurityGroupIds);
  t.is(await fencedBy(SOURCE_DB), "fb4");
});

test.serial("refuses to fail back while the primary region is down, changing nothing", async (t) => {
  const { base, p } = await failedOver(t);
  p.setRule(regionDown(PRIMARY_REGION));
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--writes-stopped", "--yes"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /the primary region us-east-1 is not healthy yet \(health check .* unreadable: .*; eventchain-prod-db unreachable in us-east-1: .*\): refusing to fail back\. Pass --force/,
  );
  t.deepEqual(await state(), before);
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());
});

test.serial("refuses without --writes-stopped", async (t) => {
  const { base, p } = await failedOver(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--yes"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /writes after it would be lost\. Stop writes first \(maintenance mode\), then pass --writes-stopped/,
  );
  t.deepEqual(await state(), before);
});

test.serial("dry run changes nothing; without --yes and a terminal it stops before the switch", async (t) => {
  const { ws, base, p } = await failedOver(t);
  const before = await state();
  const dry = await runRunbook(runbook, [...base, "--writes-stopped", "--dry-run"], { aws: awsFor(p.endpoint) });
  t.is(dry.exitCode, EXIT.succeeded, dry.stdout);
  t.regex(dry.stderr, /rds:CopyDBSnapshot \(us-west-2 → us-east-1\)/);
  t.regex(dry.stderr, /cloudwatch:PutMetricData \(us-west-2\)/);
  t.deepEqual(await state(), before);
  const stopped = await runRunbook(
    runbook,
    [...base, "--writes-stopped", "--run-id", "fb2", "--health-attempts", "1"],
    { aws: awsFor(p.endpoint) },
  );
  t.is(stopped.exitCode, EXIT.stopped);
  // The failover fenced the primary already: that step is done, the first to confirm is the switch.
  t.is(ws.journal("fb2").steps["fence-old-primary"]!.status, "skipped");
  t.regex(stopped.stdout, /step "disengage-switch" .* moves traffic and needs confirmation/);
  t.is(await switchState(), "ALARM", "switch still engaged");
  const resumed = await runRunbook(
    runbook,
    ["--resume", "fb2", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
    { aws: awsFor(p.endpoint) },
  );
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
  t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase());
});

test.serial(
  "fence-primary alone fences an answering primary and fails, changing nothing, when it does not answer",
  async (t) => {
    // Quietly both runs take about 4 s: a fence that waited on the hung region past its bounds fails here.
    t.timeout(60_000);
    await engageSwitch(); // after a region-failover
    const ws = workspace(t);
    const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
    const p = await proxy(t, regionDown(PRIMARY_REGION, "hang"));
    const before = await state();
    const down = await runRunbook(fence, [...base, "--yes", "--primary-timeout-seconds", "1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(down.exitCode, EXIT.failed);
    t.regex(down.stdout, /FAILED at step "fence-primary": primary not fenced: .*no answer within 1 s/);
    t.deepEqual(await state(), before);
    p.setRule(() => undefined);
    const up = await runRunbook(fence, [...base, "--yes"], { aws: awsFor(p.endpoint) });
    t.is(up.exitCode, EXIT.succeeded, up.stdout);
    t.deepEqual(await prodServices(), [0, 0]);
    t.deepEqual(await groupsOf(SOURCE_DB), seeded().prod.failover.fenceSecurityGroupIds);
    const by = await fencedBy(SOURCE_DB);
    t.regex(by ?? "", /^fence-primary-/);
    t.regex(up.stdout, /is fenced \(security groups .*\) and kept/);
    t.true(
      up.stdout.includes(
        `The fence is recorded on the instance (eventchain:fenced-by ${by}): a 'pulumi up' of prod keeps it, ` +
          `with or without a refresh. Lift it only as a decision: npx zx runbooks/lift-fence.ts --stack prod ` +
          `--fence ${by}`,
      ),
      up.stdout,
    );
  },
);

test.serial(
  "fence-primary records a fence set without a record (by hand, or by an older runbook), changing nothing else",
  async (t) => {
    await engageSwitch();
    const ws = workspace(t);
    const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
    const fenceIds = seeded().prod.failover.fenceSecurityGroupIds;
    await new RDSClient(c()).send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: SOURCE_DB,
        VpcSecurityGroupIds: fenceIds,
        ApplyImmediately: true,
      }),
    );
    t.is(await fencedBy(SOURCE_DB), undefined);
    const res = await runRunbook(fence, [...base, "--yes", "--run-id", "fp2"], { aws: awsFor(moto().endpoint) });
    t.is(res.exitCode, EXIT.succeeded, res.stdout);
    t.like(ws.journal("fp2").steps["fence-primary"]!.outputs, {
      fenced: true,
      database: { result: "already on the fence; fence recorded (fp2)", previousSecurityGroups: null, fencedBy: "fp2" },
    });
    t.is(await fencedBy(SOURCE_DB), "fp2");
    t.deepEqual(await groupsOf(SOURCE_DB), fenceIds);
    // Recorded and fenced: a second run finds it done and writes nothing.
    const again = await runRunbook(fence, [...base, "--yes", "--run-id", "fp3"], { aws: awsFor(moto().endpoint) });
    t.is(again.exitCode, EXIT.succeeded, again.stdout);
    t.is(ws.journal("fp3").steps["fence-primary"]!.status, "skipped");
    t.is(await fencedBy(SOURCE_DB), "fp2", "the first record stays");
  },
);

test.serial(
  "fence-primary refuses while the switch sends clients to the primary, changing nothing; --force fences and says why",
  async (t) => {
    const ws = workspace(t);
    const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
    const p = await proxy(t);
    const before = await state();
    const refused = await runRunbook(fence, [...base, "--yes"], { aws: awsFor(p.endpoint) });
    t.is(refused.exitCode, EXIT.badInput, refused.stdout);
    t.regex(
      refused.stdout,
      /REFUSED at step "check-stack": the failover switch is disengaged \(alarm \S+ in us-west-2 is OK\): clients are sent to us-east-1, and fencing sets its services to 0 and closes its database to new connections — an outage\. Fence after region-failover has engaged the switch \(npx zx runbooks\/region-failover\.ts --stack prod\), or pass --force once you have made sure nothing is served from us-east-1/,
    );
    t.deepEqual(await state(), before, "nothing changed");
    const forced = await runRunbook(fence, [...base, "--yes", "--force"], { aws: awsFor(p.endpoint) });
    t.is(forced.exitCode, EXIT.succeeded, forced.stdout);
    t.regex(forced.stdout + forced.stderr, /fencing although the failover switch is disengaged .* because of --force/);
    t.deepEqual(await prodServices(), [0, 0]);
    t.deepEqual(await groupsOf(SOURCE_DB), seeded().prod.failover.fenceSecurityGroupIds);
  },
);

test.serial(
  "fence-primary refuses, changing nothing, when the failover switch cannot be read; --force fences without it",
  async (t) => {
    const ws = workspace(t);
    const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
    // CloudWatch in the DR region refuses every read of the switch (an IAM gap, an outage behind it).
    const p = await proxy(t, (r) =>
      r.service === "monitoring" && r.action === "DescribeAlarms"
        ? { status: 403, body: "<html>403 Forbidden</html>", contentType: "text/html" }
        : undefined,
    );
    const before = await state();
    const refused = await runRunbook(fence, [...base, "--yes"], { aws: awsFor(p.endpoint) });
    t.is(refused.exitCode, EXIT.badInput, refused.stdout);
    t.regex(
      refused.stdout,
      /REFUSED at step "check-stack": cannot read the failover switch \(alarm \S+ in us-west-2\): .*403.*; fence only once you know clients left us-east-1 \(pass --force then\)/,
    );
    t.deepEqual(await state(), before, "nothing changed");
    const forced = await runRunbook(fence, [...base, "--yes", "--force"], { aws: awsFor(p.endpoint) });
    t.is(forced.exitCode, EXIT.succeeded, forced.stdout);
    t.regex(forced.stdout + forced.stderr, /fencing without reading the failover switch, because of --force/);
    t.deepEqual(await prodServices(), [0, 0]);
  },
);
