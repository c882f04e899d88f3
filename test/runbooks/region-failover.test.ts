/**
 * region-failover against moto, through the AWS proxy. moto answers no DNS and does not evaluate
 * alarms: the test helper (test/helpers/failover.ts) serves the zone from a loopback name server
 * the way Route 53's data plane would and sets the switch alarm as CloudWatch would on each
 * PutMetricData (rehearsal/stand-ins/route53-data-plane.ts). AWS Backup's ListRecoveryPointsByBackupVault
 * is not emulated (404): a recorded response in the API reference's shape stands in for it.
 */
import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DescribeDBInstancesCommand,
  RDSClient,
  CreateDBSnapshotCommand,
  CopyDBSnapshotCommand,
} from "@aws-sdk/client-rds";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { Ajv } from "ajv";
import { runbook } from "../../runbooks/region-failover.ts";
import { declaredFence, FENCE_TAG } from "../../contract/fence-record.ts";
import { liveOf } from "../../runbooks/aws/fencing.ts";
import { failoverSinks } from "../../runbooks/aws/alert-topic-sinks.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { DR_DB, DR_REGION, PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { errorRateAlarm } from "../../rehearsal/stand-ins/aws-seed-failover.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture, type FaultProxy } from "../helpers/fault-proxy.ts";

const validateReport = new Ajv({
  allErrors: true,
  formats: { "date-time": (s: string) => !Number.isNaN(Date.parse(s)) },
}).compile(JSON.parse(readFileSync(new URL("../../runbooks/lib/report.schema.json", import.meta.url), "utf8")));

const { moto, seeded, proxy, answer, state } = useFailoverMoto(test);
const c = (region = DR_REGION) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

function setup(t: ExecutionContext) {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  return {
    ws,
    file,
    base: ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--primary-timeout-seconds", "2"],
  };
}

/** Route 53's checkers see the primary endpoint failing (recorded response: moto always reports success). */
const endpointFailing = (r: { service: string; action: string }) =>
  r.service === "route53" && r.action.includes("/status")
    ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
    : undefined;

const switchAlarm = async () =>
  (
    await new CloudWatchClient(c()).send(
      new DescribeAlarmsCommand({ AlarmNames: [seeded().dr.failover.switch.alarmName] }),
    )
  ).MetricAlarms![0]!;

const records = async () =>
  (
    await new Route53Client(c(PRIMARY_REGION)).send(
      new ListResourceRecordSetsCommand({ HostedZoneId: seeded().prod.dns.hostedZoneId }),
    )
  ).ResourceRecordSets!.filter((r) => r.SetIdentifier);

const services = async (region: string, stack: "prod" | "dr") =>
  (
    await new ECSClient(c(region)).send(
      new DescribeServicesCommand({
        cluster: seeded()[stack].services.clusterName,
        services: seeded()[stack].services.services.map((s) => s.name),
      }),
    )
  ).services!.map((s) => [s.serviceName, s.desiredCount]);

const instance = async (region: string, id: string) =>
  (await new RDSClient(c(region)).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;

test.serial(
  "fails over: DR database restored, services at 3 and 2, switch engaged, clients moved per the authoritative name servers, primary fenced, report",
  // Long on purpose: one failover, then each of its effects checked in the order the runbook makes them.
  async (t) => {
    const { ws, base } = setup(t);
    const p = await proxy(t, endpointFailing);
    const recordsBefore = await records();
    t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase(), "before: clients on the primary");
    const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
      sinks: (o, cl, peer) => failoverSinks(o, cl, peer, () => undefined),
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);

    // moto answers DescribeDBInstanceAutomatedBackups in the DR region with nothing and AWS Backup
    // with a 404, so the copied snapshot is the newest source (the other sources: their own tests).
    const journal = ws.journal("fo1");
    t.like(journal.steps["choose-recovery-source"]!.outputs, {
      method: "copied-snapshot",
      snapshotId: seeded().drSnapshotId,
    });
    t.true(
      (journal.steps["choose-recovery-source"]!.outputs!.considered as string[]).some((l) =>
        l.startsWith(`AWS Backup vault ${seeded().dr.backup.vaultName}: unreadable`),
      ),
    );

    const db = await instance(DR_REGION, DR_DB);
    t.is(db.DBInstanceStatus, "available");
    t.is(db.DBInstanceClass, seeded().dr.database.instanceClass);
    t.is(db.DBSubnetGroup?.DBSubnetGroupName, seeded().dr.database.subnetGroupName);
    t.false(db.PubliclyAccessible);
    t.deepEqual(await services(DR_REGION, "dr"), [
      ["eventchain-backend-dr", 3],
      ["eventchain-frontend-dr", 2],
    ]);
    const secret = JSON.parse(
      (
        await new SecretsManagerClient(c()).send(
          new GetSecretValueCommand({ SecretId: seeded().dr.database.appConnectionSecretArn }),
        )
      ).SecretString!,
    );
    t.is(secret.host, db.Endpoint?.Address);

    // Traffic moved through the switch: the alarm is engaged, the records are exactly as declared,
    // and the zone's authoritative name server answers the DR load balancer.
    t.is((await switchAlarm()).StateValue, "ALARM");
    t.deepEqual(await records(), recordsBefore, "no record was rewritten");
    t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());
    t.false(
      p.seen.some((r) => r.service === "route53" && r.action.startsWith("POST")),
      "no Route 53 control-plane change",
    );
    const moved = journal.steps["verify-clients-moved"]!.outputs!;
    t.is(moved.expected, seeded().dr.services.loadBalancerDnsName.toLowerCase());
    t.is(Date.parse(moved.clientsMovedBy as string) - Date.parse(moved.answeredAt as string), 2000, "answer + TTL");

    // The old primary is fenced: services at 0, the database admits no new connection, nothing deleted.
    t.deepEqual(await services(PRIMARY_REGION, "prod"), [
      ["eventchain-backend-prod", 0],
      ["eventchain-frontend-prod", 0],
    ]);
    const old = await instance(PRIMARY_REGION, SOURCE_DB);
    t.is(old.DBInstanceStatus, "available");
    t.deepEqual(
      old.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      seeded().prod.failover.fenceSecurityGroupIds,
    );
    t.like(journal.steps["fence-primary"]!.outputs, { fenced: true, unreachable: [], database: { fencedBy: "fo1" } });
    // Recorded on the instance, so the prod stack's program keeps the fence (contract/fence-record.ts).
    const live = liveOf(SOURCE_DB, old);
    t.is(live.tags[FENCE_TAG.by], "fo1");
    t.true(Date.parse(live.tags[FENCE_TAG.at]!) >= Date.parse(journal.steps["fence-primary"]!.startedAt!));
    t.deepEqual(
      declaredFence("prod", live, seeded().prod.failover.fenceSecurityGroupIds)?.securityGroupIds,
      live.securityGroupIds,
      "a pulumi up of prod declares the instance as the fence left it",
    );
    t.true(
      res.report!.nextSteps.some((l) =>
        l.endsWith("Its fence is recorded on it (eventchain:fenced-by fo1): a 'pulumi up' of prod keeps it."),
      ),
      res.report!.nextSteps.join("\n"),
    );

    // The DR alarm is Pulumi's: it exists and its actions are on; the runbook created none.
    t.like(journal.steps["enable-dr-alarm"]!.outputs, {
      alarm: seeded().dr.services.errorRateAlarmName,
      actions: "already enabled",
    });
    t.false(p.seen.some((r) => r.action === "PutMetricAlarm"));

    const report = JSON.parse(readFileSync(join(ws.stateDir, "fo1", "report.json"), "utf8")) as NonNullable<
      typeof res.report
    >;
    t.true(validateReport(report), JSON.stringify(validateReport.errors));
    t.is(report.verdict, "objectives_met");
    t.is(report.caveats, undefined);
    t.is(report.rpo.source, `snapshot ${seeded().drSnapshotId} copied to us-west-2`);
    // The switch engaged only after the DR database was available and its targets healthy.
    const ended = (id: string) => Date.parse(report.steps.find((s) => s.id === id)!.endedAt!);
    const started = (id: string) => Date.parse(report.steps.find((s) => s.id === id)!.startedAt!);
    t.true(started("engage-switch") >= ended("verify-targets") && started("engage-switch") >= ended("wait-database"));
    t.true(started("fence-primary") >= ended("engage-switch"));
    t.deepEqual(
      report.milestones.map((m) => m.id).filter((id) => ["switch_engaged", "traffic_moved"].includes(id)),
      ["switch_engaged", "traffic_moved"],
    );
    t.regex(res.stdout, /clients honouring the TTL moved by/);
    const md = readFileSync(join(ws.stateDir, "fo1", "report.md"), "utf8");
    t.regex(md, /Engage the failover switch \(clients to the DR region\) :done/);
  },
);

test.serial("refuses to fail over a healthy primary without --force, changing nothing", async (t) => {
  const { base } = setup(t);
  const p = await proxy(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--yes"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /the primary region us-east-1 looks healthy \(health check .*: 1\/1 checkers report success; eventchain-prod-db is available\): refusing to fail over\. Pass --force/,
  );
  t.deepEqual(await state(), before);
  t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase());
});

test.serial("--force fails over a primary that looks healthy", async (t) => {
  const { base } = setup(t);
  const p = await proxy(t);
  const res = await runRunbook(runbook, [...base, "--yes", "--force", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.regex(res.stderr, /failing over a primary that looks healthy, because of --force/);
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());
});

test.serial("dry run lists every call and changes nothing", async (t) => {
  const { ws, base } = setup(t);
  const p = await proxy(t, endpointFailing);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--dry-run"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  for (const call of [
    "rds:RestoreDBInstanceFromDBSnapshot (us-west-2)",
    "backup:ListRecoveryPointsByBackupVault (us-west-2)",
    "ecs:UpdateService (us-west-2)",
    "cloudwatch:PutMetricData (us-west-2)",
    "cloudwatch:EnableAlarmActions (us-west-2)",
    "secretsmanager:PutSecretValue (us-west-2)",
    "elbv2:DescribeTargetHealth",
    "rds:AddTagsToResource (us-east-1, bounded)",
    "rds:ModifyDBInstance (us-east-1, bounded)",
    "DNS query api.eventchain.com CNAME at each authoritative name server",
  ]) {
    t.true(res.stderr.includes(call), call);
  }
  t.false(res.stderr.includes("route53:ChangeResourceRecordSets"));
  t.true(res.stderr.includes(`"DBSnapshotIdentifier":"arn:aws:rds:us-west-2:`));
  t.deepEqual(await state(), before);
  t.deepEqual(ws.runIds(), []);
});

test.serial("unhealthy DR targets stop the failover before the switch engages", async (t) => {
  const { ws, base } = setup(t);
  const p = await proxy(t, (r) =>
    r.action === "DescribeTargetHealth"
      ? { status: 200, body: fixture("elbv2-describe-target-health-unhealthy.xml") }
      : endpointFailing(r),
  );
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo2", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "verify-targets": target health not reached after 1 check\(s\): .* has no healthy target \(unhealthy\)/,
  );
  t.regex(res.stdout, /--resume fo2/);
  t.is((await switchAlarm()).StateValue, "OK", "switch not engaged");
  t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase(), "clients still on the primary");
  t.false("engage-switch" in ws.journal("fo2").steps);
  t.is(res.report?.verdict, "failed");
});

test.serial("the DR restore picks an AWS Backup copy in the DR vault when it is the newest source", async (t) => {
  const { ws, base } = setup(t);
  // What the primary's backup plan copies into the DR vault: moto cannot make an AWS Backup copy,
  // so a snapshot copied into the DR region later than the seeded one stands in for it, and the
  // vault's listing (moto: 404) is the recorded response naming it.
  const rds = new RDSClient(c(PRIMARY_REGION));
  const snap = await rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: SOURCE_DB,
      DBSnapshotIdentifier: "eventchain-prod-db-hourly-2",
    }),
  );
  const copy = await new RDSClient(c()).send(
    new CopyDBSnapshotCommand({
      SourceDBSnapshotIdentifier: snap.DBSnapshot!.DBSnapshotArn!,
      TargetDBSnapshotIdentifier: "awsbackup-copyjob-standin",
      KmsKeyId: seeded().dr.database.kmsKeyArn,
    }),
  );
  const pointArn = copy.DBSnapshot!.DBSnapshotArn!;
  const listing = JSON.parse(fixture("backup-list-recovery-points-by-backup-vault.json"));
  listing.RecoveryPoints[0].RecoveryPointArn = pointArn;
  listing.RecoveryPoints[0].ResourceArn = seeded().prod.database.instanceArn;
  listing.RecoveryPoints[0].BackupVaultName = seeded().dr.backup.vaultName;
  listing.RecoveryPoints = [listing.RecoveryPoints[0]];
  const p = await proxy(t, (r) =>
    r.service === "backup" && r.action.includes("/recovery-points")
      ? { status: 200, contentType: "application/json", body: JSON.stringify(listing) }
      : endpointFailing(r),
  );
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo8", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.like(ws.journal("fo8").steps["choose-recovery-source"]!.outputs, {
    method: "aws-backup",
    recoveryPointArn: pointArn,
    vaultName: seeded().dr.backup.vaultName,
  });
  t.is(
    res.report!.rpo.source,
    `AWS Backup recovery point ${pointArn} in vault ${seeded().dr.backup.vaultName} (us-west-2)`,
  );
  const restore = p.seen.find((r) => r.action === "RestoreDBInstanceFromDBSnapshot")!;
  t.is(new URLSearchParams(restore.body).get("DBSnapshotIdentifier"), pointArn);
  t.is((await instance(DR_REGION, DR_DB)).DBInstanceStatus, "available");
});

test.serial(
  "a DR error-rate alarm with its actions disabled gets them enabled (EnableAlarmActions: recorded response, moto answers 500)",
  async (t) => {
    const { ws, base } = setup(t);
    const drAlarm = { region: DR_REGION, stack: "dr" as const, topicArn: seeded().dr.alerts.topicArn };
    await errorRateAlarm(moto().endpoint, drAlarm, false);
    const p = await proxy(t, async (r) => {
      if (r.action !== "EnableAlarmActions") return endpointFailing(r);
      // What CloudWatch does on EnableAlarmActions, applied to the emulator; then AWS's empty answer.
      await errorRateAlarm(moto().endpoint, drAlarm, true);
      return { status: 200, contentType: "application/x-amz-json-1.0", body: "{}" };
    });
    const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo9", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.like(ws.journal("fo9").steps["enable-dr-alarm"]!.outputs, { actions: "enabled by this run" });
    const alarm = (
      await new CloudWatchClient(c()).send(
        new DescribeAlarmsCommand({ AlarmNames: [seeded().dr.services.errorRateAlarmName] }),
      )
    ).MetricAlarms![0]!;
    t.true(alarm.ActionsEnabled);
  },
);

test.serial("a missing DR alarm fails after traffic is on DR, naming the stack that declares it", async (t) => {
  const { ws, base } = setup(t);
  const outputs = structuredClone(seeded().file);
  outputs.dr.services.errorRateAlarmName = "EventChain-DR-NotDeployed";
  const file = ws.writeOutputs(outputs, "no-alarm.json");
  const p = await proxy(t, endpointFailing);
  const res = await runRunbook(
    runbook,
    [
      ...base.map((a) => (a.endsWith("outputs.json") ? file : a)),
      "--yes",
      "--run-id",
      "fo10",
      "--health-attempts",
      "1",
    ],
    { aws: awsFor(p.endpoint) },
  );
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "enable-dr-alarm": alarm EventChain-DR-NotDeployed not found in us-west-2: the dr stack declares it \(ErrorRateAlarm\); run pulumi up -s dr once its state backend answers\. The runbook does not create alarms outside Pulumi/,
  );
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase(), "traffic moved all the same");
  t.false(p.seen.some((r) => r.action === "PutMetricAlarm"));
});

test.serial("re-running a finished failover changes nothing", async (t) => {
  const { base } = setup(t);
  const p = await proxy(t, endpointFailing);
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo3", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(first.exitCode, EXIT.succeeded, first.stdout);
  const after = await state();
  const again = await runRunbook(runbook, [...base, "--yes", "--run-id", "fo4", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(again.exitCode, EXIT.succeeded, again.stdout);
  t.deepEqual(
    again.report!.steps.filter((s) => s.status === "skipped").map((s) => s.id),
    ["restore-database", "scale-services", "point-dr-app", "engage-switch", "fence-primary"],
  );
  t.deepEqual(await state(), after);
});

/** Runs region-failover in a child process (so it can be killed), through `p`. */
function child(t: ExecutionContext, file: string, stateDir: string, runId: string, p: FaultProxy) {
  const proc = spawn(
    process.execPath,
    [
      "--import=tsx",
      "runbooks/region-failover.ts",
      ...["--outputs", file, "--stack", "prod", "--state-dir", stateDir, "--run-id", runId],
      ...["--yes", "--health-attempts", "1", "--primary-timeout-seconds", "2"],
    ],
    {
      cwd: new URL("../..", import.meta.url).pathname,
      env: { ...process.env, AWS_ENDPOINT_URL: p.endpoint, AWS_MAX_ATTEMPTS: "1" },
      stdio: "ignore",
    },
  );
  t.teardown(() => void proc.kill("SIGKILL"));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, exited };
}

test.serial(
  "a failover killed while engaging the switch resumes at that step without repeating the restore",
  async (t) => {
    const { ws, file } = setup(t);
    const p = await proxy(t, (r) => (r.action === "PutMetricData" ? "hang" : endpointFailing(r)));
    const { proc, exited } = child(t, file, ws.stateDir, "fo5", p);
    const journalPath = join(ws.stateDir, "fo5", "journal.json");
    // Poll the journal (event-driven on the child's progress, no fixed sleep) until the switch is being set.
    for (let i = 0; i < 2400; i++) {
      if (existsSync(journalPath) && ws.journal("fo5").steps["engage-switch"]?.status === "running") break;
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.is(ws.journal("fo5").steps["engage-switch"]?.status, "running", "the child reached the switch");
    proc.kill("SIGKILL");
    await exited;
    p.setRule(endpointFailing);
    const resumed = await runRunbook(
      runbook,
      ["--resume", "fo5", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
      { aws: awsFor(p.endpoint) },
    );
    t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout + resumed.stderr);
    const journal = ws.journal("fo5");
    for (const id of ["choose-recovery-source", "restore-database", "wait-database", "scale-services", "point-dr-app"])
      t.is(journal.steps[id]!.attempts, 1, `${id} not repeated`);
    t.is(journal.steps["engage-switch"]!.attempts, 2);
    t.is(journal.steps["verify-clients-moved"]!.status, "succeeded");
    t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());
  },
);

test.serial("Ctrl-C while waiting for the switch alarm stops at once with exit 130; --resume finishes", async (t) => {
  const { ws, file } = setup(t);
  // The write is accepted but the alarm never shows it (evaluation withheld): the runbook keeps polling.
  const p = await proxy(t, (r) =>
    r.action === "PutMetricData"
      ? { status: 200, body: "{}", contentType: "application/x-amz-json-1.0" }
      : endpointFailing(r),
  );
  const { proc, exited } = child(t, file, ws.stateDir, "fo6", p);
  for (let i = 0; i < 2400 && proc.exitCode === null; i++) {
    if (
      p.seen.some(
        (r) =>
          r.action === "DescribeAlarms" && r.region === DR_REGION && p.seen.some((x) => x.action === "PutMetricData"),
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill("SIGINT");
  t.is(await exited, EXIT.interrupted);
  const journal = ws.journal("fo6");
  t.is(journal.status, "interrupted");
  t.regex(journal.steps["engage-switch"]!.error!, /^interrupted: /);
  p.setRule(endpointFailing);
  const resumed = await runRunbook(
    runbook,
    ["--resume", "fo6", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
    {
      aws: awsFor(p.endpoint),
    },
  );
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());
});

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

test.serial("a bad --primary-timeout-seconds is refused naming the value and the range", async (t) => {
  const { base } = setup(t);
  const res = await runRunbook(runbook, [...base, "--primary-timeout-seconds", "0"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /invalid --primary-timeout-seconds "0": expected a number greater than 0 and at most 300/);
});
