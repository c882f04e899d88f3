import test, { type ExecutionContext } from "ava";
import { DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { runbook as failover } from "../../runbooks/region-failover.ts";
import { runbook } from "../../runbooks/failback.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { PRIMARY_REGION } from "../../runbooks/local/aws-seed.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { serviceUnavailable, startFaultProxy } from "../helpers/fault-proxy.ts";

/** Before each test: the stacks as seeded, then a completed failover to DR (primary RDS was down). */
const { moto, seeded, state } = useSeededMoto(test);

async function failedOver(t: ExecutionContext) {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  const base = ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir];
  const proxy = await startFaultProxy(moto().endpoint, (r) =>
    r.service === "rds" && r.region === "us-east-1" ? serviceUnavailable() : undefined,
  );
  t.teardown(() => proxy.close());
  const fo = await runRunbook(failover, [...base, "--yes", "--health-attempts", "1"], { aws: awsFor(proxy.endpoint) });
  t.is(fo.exitCode, EXIT.succeeded, fo.stdout);
  return { ws, base, proxy };
}

const c = (region = PRIMARY_REGION) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });
async function primaryRecord() {
  const res = await new Route53Client(c()).send(
    new ListResourceRecordSetsCommand({ HostedZoneId: seeded().prod.dns.hostedZoneId }),
  );
  return res.ResourceRecordSets!.find((r) => r.SetIdentifier === "primary")!;
}

test.serial(
  "fails back: new primary restored from the DR data, app repointed, DNS back with its health check",
  async (t) => {
    const { ws, base } = await failedOver(t);
    const res = await runRunbook(
      runbook,
      [...base, "--writes-stopped", "--yes", "--run-id", "fb1", "--health-attempts", "1"],
      { aws: awsFor(moto().endpoint) },
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
    t.is(db.DBParameterGroups?.[0]?.DBParameterGroupName, seeded().prod.database.parameterGroupName);
    const record = await primaryRecord();
    t.is(record.ResourceRecords?.[0]?.Value, seeded().prod.dns.primaryTarget);
    t.is(record.HealthCheckId, seeded().prod.dns.primaryHealthCheckId);
    const secret = JSON.parse(
      (
        await new SecretsManagerClient(c()).send(
          new GetSecretValueCommand({ SecretId: seeded().prod.database.appConnectionSecretArn }),
        )
      ).SecretString!,
    );
    t.is(secret.host, db.Endpoint?.Address);
    t.is(secret.dbname, "eventchain", "other connection settings are kept");
    const alarms = (
      await new CloudWatchClient(c()).send(
        new DescribeAlarmsCommand({ AlarmNames: [seeded().prod.services.errorRateAlarmName] }),
      )
    ).MetricAlarms!;
    t.is(alarms.length, 1);
    t.is(res.report?.verdict, "objectives_met");
    t.regex(res.report!.rpo.source!, /snapshot eventchain-dr-db-failback-\d{14} of eventchain-dr-db/);
    t.regex(res.stdout, /adopt it \(pulumi import/);
  },
);

test.serial("refuses to fail back while the primary region is down, changing nothing", async (t) => {
  const { base, proxy } = await failedOver(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--writes-stopped", "--yes"], { aws: awsFor(proxy.endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /the primary region us-east-1 is not healthy yet \(.*RDS in us-east-1 unreachable.*\): refusing to fail back\. Pass --force/,
  );
  t.deepEqual(await state(), before);
});

test.serial("refuses without --writes-stopped", async (t) => {
  const { base } = await failedOver(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--yes"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /writes after it would be lost\. Stop writes first \(maintenance mode\), then pass --writes-stopped/,
  );
  t.deepEqual(await state(), before);
});

test.serial("dry run changes nothing; without --yes and a terminal it stops before moving DNS", async (t) => {
  const { ws, base } = await failedOver(t);
  const before = await state();
  const dry = await runRunbook(runbook, [...base, "--writes-stopped", "--dry-run"], { aws: awsFor(moto().endpoint) });
  t.is(dry.exitCode, EXIT.succeeded, dry.stdout);
  t.regex(dry.stderr, /rds:CopyDBSnapshot \(us-west-2 → us-east-1\)/);
  t.deepEqual(await state(), before);
  const stopped = await runRunbook(
    runbook,
    [...base, "--writes-stopped", "--run-id", "fb2", "--health-attempts", "1"],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(stopped.exitCode, EXIT.stopped);
  t.regex(stopped.stdout, /step "move-dns-back" .* moves traffic and needs confirmation/);
  t.is(
    (await primaryRecord()).ResourceRecords?.[0]?.Value,
    seeded().dr.services.loadBalancerDnsName,
    "DNS still on DR",
  );
  const resumed = await runRunbook(
    runbook,
    ["--resume", "fb2", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
  t.is(ws.journal("fb2").steps["restore-primary-db"]!.attempts, 1);
  t.is((await primaryRecord()).ResourceRecords?.[0]?.Value, seeded().prod.dns.primaryTarget);
});
