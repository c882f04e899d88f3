import test from "ava";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { runbook } from "../../runbooks/region-failover.ts";
import { snsSinks } from "../../runbooks/aws/notify.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { DR_DB, DR_REGION } from "../../runbooks/local/aws-seed.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture, serviceUnavailable, startFaultProxy } from "../helpers/fault-proxy.ts";
import { Ajv } from "ajv";

const validateReport = new Ajv({
  allErrors: true,
  formats: { "date-time": (s: string) => !Number.isNaN(Date.parse(s)) },
}).compile(JSON.parse(readFileSync(new URL("../../runbooks/lib/report.schema.json", import.meta.url), "utf8")));

const { moto, seeded, state } = useSeededMoto(test);

const c = (region = DR_REGION) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

function setup(t: Parameters<typeof workspace>[0]) {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  return { ws, file, base: ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir] };
}

/** The primary region's RDS answers 503: the region is down as far as the runbook can tell. */
async function primaryDown(t: Parameters<typeof workspace>[0]) {
  const proxy = await startFaultProxy(moto().endpoint, (r) =>
    r.service === "rds" && r.region === "us-east-1" ? serviceUnavailable() : undefined,
  );
  t.teardown(() => proxy.close());
  return proxy;
}

async function primaryRecord() {
  const res = await new Route53Client(c("us-east-1")).send(
    new ListResourceRecordSetsCommand({ HostedZoneId: seeded().prod.dns.hostedZoneId }),
  );
  return res.ResourceRecordSets!.find((r) => r.SetIdentifier === "primary")!;
}

test.serial(
  "fails over: DR database restored from the copied snapshot, services 3 and 2, DNS on the DR load balancer, alarm, report",
  async (t) => {
    const { ws, base } = setup(t);
    const proxy = await primaryDown(t);
    const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
      aws: awsFor(proxy.endpoint),
      sinks: snsSinks,
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    // Start and finish are announced on both stacks' topics (the primary's may be down with its region).
    const published = proxy.seen
      .filter((r) => r.action === "Publish")
      .map((r) => `${r.region}:${new URLSearchParams(r.body).get("TopicArn")}`);
    t.deepEqual(
      published.sort(),
      [
        `us-east-1:${seeded().prod.alerts.topicArn}`,
        `us-east-1:${seeded().prod.alerts.topicArn}`,
        `us-west-2:${seeded().dr.alerts.topicArn}`,
        `us-west-2:${seeded().dr.alerts.topicArn}`,
      ].sort(),
    );

    // moto answers DescribeDBInstanceAutomatedBackups in the DR region with nothing (it does not
    // emulate cross-region backup replication), so the runbook falls back to the copied snapshot;
    // the replicated-backups path is covered by recorded responses in region-failover-recorded.test.ts.
    const journal = ws.journal("fo1");
    t.is(journal.steps["choose-recovery-source"]!.outputs!.method, "copied-snapshot");
    t.is(journal.steps["choose-recovery-source"]!.outputs!.snapshotId, seeded().drSnapshotId);

    const db = (await new RDSClient(c()).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: DR_DB })))
      .DBInstances![0]!;
    t.is(db.DBInstanceStatus, "available");
    t.is(db.DBInstanceClass, seeded().dr.database.instanceClass);
    t.is(db.DBSubnetGroup?.DBSubnetGroupName, seeded().dr.database.subnetGroupName);
    t.deepEqual(
      db.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      seeded().dr.database.securityGroupIds,
    );
    t.is(db.DBParameterGroups?.[0]?.DBParameterGroupName, seeded().dr.database.parameterGroupName);
    t.false(db.PubliclyAccessible);

    const services = (
      await new ECSClient(c()).send(
        new DescribeServicesCommand({
          cluster: seeded().dr.services.clusterName,
          services: seeded().dr.services.services.map((s) => s.name),
        }),
      )
    ).services!;
    t.deepEqual(
      services.map((s) => [s.serviceName, s.desiredCount]),
      [
        ["eventchain-backend-dr", 3],
        ["eventchain-frontend-dr", 2],
      ],
    );

    const record = await primaryRecord();
    t.is(record.ResourceRecords?.[0]?.Value, seeded().dr.services.loadBalancerDnsName);
    t.is(record.Failover, "PRIMARY");

    const alarms = (
      await new CloudWatchClient(c()).send(
        new DescribeAlarmsCommand({ AlarmNames: [seeded().dr.services.errorRateAlarmName] }),
      )
    ).MetricAlarms!;
    t.is(alarms.length, 1);
    t.deepEqual(alarms[0]!.AlarmActions, [seeded().dr.alerts.topicArn]);

    const secret = JSON.parse(
      (
        await new SecretsManagerClient(c()).send(
          new GetSecretValueCommand({ SecretId: seeded().dr.database.appConnectionSecretArn }),
        )
      ).SecretString!,
    );
    t.is(secret.host, db.Endpoint?.Address);

    const report = JSON.parse(readFileSync(join(ws.stateDir, "fo1", "report.json"), "utf8")) as NonNullable<
      typeof res.report
    >;
    t.true(validateReport(report), JSON.stringify(validateReport.errors));
    t.is(report.verdict, "objectives_met");
    t.is(report.tier, "critical");
    t.is(report.rpo.source, `snapshot ${seeded().drSnapshotId} copied to us-west-2`);
    t.true(report.rpo.achievedMinutes !== null && report.rpo.achievedMinutes >= 0);
    // DNS moved only after the database and the services were verified.
    const at = (id: string) => Date.parse(report.steps.find((s) => s.id === id)!.endedAt!);
    const dnsStart = Date.parse(report.steps.find((s) => s.id === "move-dns")!.startedAt!);
    t.true(dnsStart >= at("verify-targets") && dnsStart >= at("wait-database") && dnsStart >= at("scale-services"));
    t.deepEqual(report.milestones.map((m) => m.id).slice(0, 2), ["primary_assessed", "backup_identified"]);
    const md = readFileSync(join(ws.stateDir, "fo1", "report.md"), "utf8");
    t.regex(md, /```mermaid\ngantt/);
    t.regex(md, /Move DNS to the DR region :done/);
  },
);

test.serial("refuses to fail over a healthy primary without --force, changing nothing", async (t) => {
  const { base } = setup(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--yes"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /the primary region us-east-1 looks healthy \(health check .*: 1\/1 checkers report success; eventchain-prod-db is available\): refusing to fail over\. Pass --force/,
  );
  t.deepEqual(await state(), before);
});

test.serial("a failing health check alone is enough to fail over without --force", async (t) => {
  const { ws, base } = setup(t);
  const proxy = await startFaultProxy(moto().endpoint, (r) =>
    r.service === "route53" && r.action.includes("/status")
      ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
      : undefined,
  );
  t.teardown(() => proxy.close());
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo7", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.like(ws.journal("fo7").steps["assess-primary"]!.outputs, {
    healthCheckHealthy: false,
    primaryHealthy: false,
    forced: false,
    database: "eventchain-prod-db is available",
  });
  t.regex(ws.journal("fo7").steps["assess-primary"]!.outputs!.healthCheck as string, /1\/3 checkers report success/);
});

test.serial("--force fails over a primary that looks healthy", async (t) => {
  const { base } = setup(t);
  const res = await runRunbook(runbook, [...base, "--yes", "--force", "--health-attempts", "1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.regex(res.stderr, /failing over a primary that looks healthy, because of --force/);
  t.is((await primaryRecord()).ResourceRecords?.[0]?.Value, seeded().dr.services.loadBalancerDnsName);
});

test.serial("dry run lists every call and changes nothing", async (t) => {
  const { ws, base } = setup(t);
  const proxy = await primaryDown(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--dry-run"], { aws: awsFor(proxy.endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  for (const call of [
    "rds:RestoreDBInstanceFromDBSnapshot (us-west-2)",
    "ecs:UpdateService (us-west-2)",
    "route53:ChangeResourceRecordSets (UPSERT)",
    "cloudwatch:PutMetricAlarm (us-west-2)",
    "secretsmanager:PutSecretValue (us-west-2)",
    "elbv2:DescribeTargetHealth",
  ]) {
    t.true(res.stderr.includes(call), call);
  }
  t.true(res.stderr.includes(`"DBSnapshotIdentifier":"${seeded().drSnapshotId}"`));
  t.deepEqual(await state(), before);
  t.deepEqual(ws.runIds(), []);
});

test.serial("unhealthy DR targets stop the failover before DNS moves", async (t) => {
  const { ws, base } = setup(t);
  const proxy = await primaryDown(t);
  proxy.setRule((r) => {
    if (r.service === "rds" && r.region === "us-east-1") return serviceUnavailable();
    if (r.action === "DescribeTargetHealth")
      return { status: 200, body: fixture("elbv2-describe-target-health-unhealthy.xml") };
    return undefined;
  });
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo2", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "verify-targets": target health not reached after 1 check\(s\): .* has no healthy target \(unhealthy\)/,
  );
  t.regex(res.stdout, /--resume fo2/);
  t.is(
    (await primaryRecord()).ResourceRecords?.[0]?.Value,
    seeded().prod.services.loadBalancerDnsName,
    "DNS still on the primary",
  );
  t.false("move-dns" in ws.journal("fo2").steps);
  t.is(res.report?.verdict, "failed");
});

test.serial("re-running a finished failover changes nothing", async (t) => {
  const { base } = setup(t);
  const proxy = await primaryDown(t);
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo3", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(first.exitCode, EXIT.succeeded, first.stdout);
  const after = await state();
  const again = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo4", "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(again.exitCode, EXIT.succeeded, again.stdout);
  t.deepEqual(
    again
      .report!.steps.filter((s) => s.status === "succeeded")
      .map((s) => s.id)
      .sort(),
    ["assess-primary", "choose-recovery-source", "verify-targets", "wait-database"],
  );
  t.deepEqual(await state(), after);
});

test.serial(
  "a failover process killed while moving DNS resumes at that step without repeating the restore",
  async (t) => {
    const { ws, file } = setup(t);
    const proxy = await primaryDown(t);
    proxy.setRule((r) => {
      if (r.service === "rds" && r.region === "us-east-1") return serviceUnavailable();
      if (r.service === "route53" && r.action.startsWith("POST") && r.action.includes("/rrset")) return "hang";
      return undefined;
    });
    const child = spawn(
      process.execPath,
      [
        "--import=tsx",
        "runbooks/region-failover.ts",
        "--outputs",
        file,
        "--stack",
        "prod",
        "--state-dir",
        ws.stateDir,
        "--run-id",
        "fo5",
        "--yes",
        "--health-attempts",
        "1",
      ],
      {
        cwd: new URL("../..", import.meta.url).pathname,
        env: { ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, AWS_MAX_ATTEMPTS: "1" },
        stdio: "ignore",
      },
    );
    t.teardown(() => void child.kill("SIGKILL"));
    const journalPath = join(ws.stateDir, "fo5", "journal.json");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Poll the journal (event-driven on the child's progress, no fixed sleep) until DNS is being moved.
    for (let i = 0; i < 2400; i++) {
      if (existsSync(journalPath) && ws.journal("fo5").steps["move-dns"]?.status === "running") break;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.is(ws.journal("fo5").steps["move-dns"]?.status, "running", "the child reached the DNS step");
    child.kill("SIGKILL");
    await exited;

    // The primary is still down when the run is resumed (the resume re-assesses it before moving DNS).
    proxy.setRule((r) => (r.service === "rds" && r.region === "us-east-1" ? serviceUnavailable() : undefined));
    const resumed = await runRunbook(
      runbook,
      ["--resume", "fo5", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
      { aws: awsFor(proxy.endpoint) },
    );
    t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout + resumed.stderr);
    const journal = ws.journal("fo5");
    for (const id of [
      "assess-primary",
      "choose-recovery-source",
      "restore-database",
      "wait-database",
      "scale-services",
      "point-dr-app",
      "verify-targets",
    ]) {
      t.is(journal.steps[id]!.attempts, 1, `${id} not repeated`);
    }
    t.is(journal.steps["move-dns"]!.attempts, 2);
    t.is(journal.steps["move-dns"]!.status, "succeeded");
    t.is(journal.steps["create-dr-alarm"]!.status, "succeeded");
    t.is((await primaryRecord()).ResourceRecords?.[0]?.Value, seeded().dr.services.loadBalancerDnsName);
  },
);

test.serial(
  "Ctrl-C while Route 53 propagates stops the process at once with exit 130; --resume finishes",
  async (t) => {
    const { ws, file } = setup(t);
    const proxy = await primaryDown(t);
    proxy.setRule((r) => {
      if (r.service === "rds" && r.region === "us-east-1") return serviceUnavailable();
      if (r.service === "route53" && r.action.startsWith("GET") && r.action.includes("/change/"))
        return { status: 200, body: fixture("route53-get-change-pending.xml") };
      return undefined;
    });
    const child = spawn(
      process.execPath,
      [
        "--import=tsx",
        "runbooks/region-failover.ts",
        "--outputs",
        file,
        "--stack",
        "prod",
        "--state-dir",
        ws.stateDir,
        "--run-id",
        "fo6",
        "--yes",
        "--health-attempts",
        "1",
      ],
      {
        cwd: new URL("../..", import.meta.url).pathname,
        env: { ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, AWS_MAX_ATTEMPTS: "1" },
        stdio: "ignore",
      },
    );
    t.teardown(() => void child.kill("SIGKILL"));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Wait (polling the emulator proxy, no fixed sleep) until the waiter has seen PENDING once.
    for (let i = 0; i < 2400 && child.exitCode === null; i++) {
      if (proxy.seen.some((r) => r.service === "route53" && r.action.includes("/change/"))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    t.is(await exited, EXIT.interrupted);
    const journal = ws.journal("fo6");
    t.is(journal.status, "interrupted");
    t.regex(journal.steps["move-dns"]!.error!, /^interrupted: /);
    const resumed = await runRunbook(
      runbook,
      ["--resume", "fo6", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
      { aws: awsFor(moto().endpoint) },
    );
    t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
    t.is((await primaryRecord()).ResourceRecords?.[0]?.Value, seeded().dr.services.loadBalancerDnsName);
  },
);

test.serial("--stack dr is refused: failover starts from the primary stack", async (t) => {
  const { ws } = setup(t);
  const res = await runRunbook(
    runbook,
    ["--outputs", ws.writeOutputs(seeded().file, "o.json"), "--stack", "dr", "--state-dir", ws.stateDir, "--yes"],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /--stack must be the primary stack \(role "primary"\), got "dr" \(role "dr"\); use --stack prod/);
});

test.serial("a missing peer stack in the outputs file is bad input", async (t) => {
  const { ws } = setup(t);
  const res = await runRunbook(
    runbook,
    [
      "--outputs",
      ws.writeOutputs({ prod: seeded().prod }, "prod-only.json"),
      "--stack",
      "prod",
      "--state-dir",
      ws.stateDir,
    ],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /needs the peer stack "dr" too/);
});
