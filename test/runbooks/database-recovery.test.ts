import test, { type ExecutionContext } from "ava";
import { DescribeDBInstancesCommand, RDSClient, StopDBInstanceCommand } from "@aws-sdk/client-rds";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { runbook } from "../../runbooks/database-recovery.ts";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { publishSink } from "../../runbooks/lib/notifications.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const { moto, seeded, state } = useSeededMoto(test);

const rds = () => new RDSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
const describe = async (id: string) =>
  (await rds().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
const secret = async () =>
  JSON.parse(
    (
      await new SecretsManagerClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 }).send(
        new GetSecretValueCommand({ SecretId: seeded().prod.database.appConnectionSecretArn }),
      )
    ).SecretString!,
  );

/** The primary database fails (moto: stopped, so it no longer serves). */
const databaseFails = () => rds().send(new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }));

function setup(t: ExecutionContext) {
  const ws = workspace(t);
  return { ws, base: ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir] };
}

test.serial(
  "recovers a failed database: notifies, restores the latest point to a new instance, repoints the app, verifies",
  async (t) => {
    const { ws, base } = setup(t);
    await databaseFails();
    const latest = (await describe(SOURCE_DB)).LatestRestorableTime!.toISOString();
    const sent: string[] = [];
    const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "dbr1", "--health-attempts", "1"], {
      aws: awsFor(moto().endpoint),
      sinks: () => [publishSink("capture", async (subject) => void sent.push(subject))],
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    const targetId = ws.journal("dbr1").steps["pick-restore-point"]!.outputs!.targetId as string;
    t.regex(targetId, /^eventchain-prod-db-rec-\d{14}$/);
    const restored = await describe(targetId);
    t.is(restored.DBInstanceStatus, "available");
    t.is(restored.DBSubnetGroup?.DBSubnetGroupName, seeded().prod.database.subnetGroupName);
    t.is(restored.DBParameterGroups?.[0]?.DBParameterGroupName, seeded().prod.database.parameterGroupName);
    t.deepEqual(
      restored.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
      seeded().prod.database.securityGroupIds,
    );
    t.is((await secret()).host, restored.Endpoint?.Address);
    t.is((await describe(SOURCE_DB)).DBInstanceStatus, "stopped", "the failed instance is kept");
    t.true(sent.some((s) => /Database failure on prod: recovery started/.test(s)));
    const report = res.report!;
    t.is(report.verdict, "objectives_met");
    // moto reports "now" as LatestRestorableTime; the report carries the time fixed in the journal.
    t.is(report.rpo.recoveryPointAt, ws.journal("dbr1").steps["pick-restore-point"]!.outputs!.restoreTime as string);
    t.true(Date.parse(report.rpo.recoveryPointAt!) >= Date.parse(latest));
    t.is(report.rpo.source, "latest restorable time of eventchain-prod-db");
    t.true(report.checklist.some((c) => /post-incident review/.test(c)));
    t.deepEqual(
      report.milestones.map((m) => m.id),
      [
        "failure_confirmed",
        "notify-team",
        "backup_identified",
        "restore_started",
        "restore_completed",
        "repoint-application",
        "health_verified",
        "recovery_completed",
      ],
    );
    t.deepEqual(
      report.steps.map((s) => s.status),
      Array(7).fill("succeeded"),
    );
  },
);

test.serial("refuses to replace a database that is available, changing nothing", async (t) => {
  const { base } = setup(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--yes"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /eventchain-prod-db is available: this runbook is for a failed database\. For bad data use point-in-time-restore; pass --force/,
  );
  t.deepEqual(await state(), before);
});

test.serial("dry run changes nothing and shows the restore and the secret update", async (t) => {
  const { base } = setup(t);
  await databaseFails();
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--dry-run"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.regex(
    res.stderr,
    /rds:RestoreDBInstanceToPointInTime \(us-east-1\) .*"SourceDBInstanceIdentifier":"eventchain-prod-db"/,
  );
  t.regex(res.stderr, /secretsmanager:PutSecretValue \(us-east-1\)/);
  t.deepEqual(await state(), before);
});

test.serial(
  "--use-instance repoints to an instance recovered by point-in-time-restore, without another restore",
  async (t) => {
    const { ws, base } = setup(t);
    const time = (await describe(SOURCE_DB)).LatestRestorableTime!.toISOString();
    const p = await runRunbook(pitr, [...base, "--time", time, "--run-id", "p1"], { aws: awsFor(moto().endpoint) });
    t.is(p.exitCode, EXIT.succeeded, p.stdout);
    const pitrId = ws.journal("p1").steps["check-window"]!.outputs!.targetId as string;
    await databaseFails();
    const instancesBefore = (await state())["prod.instances"];
    const res = await runRunbook(
      runbook,
      [...base, "--use-instance", pitrId, "--yes", "--run-id", "dbr2", "--health-attempts", "1"],
      { aws: awsFor(moto().endpoint) },
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout);
    t.is((await secret()).host, (await describe(pitrId)).Endpoint?.Address);
    t.deepEqual((await state())["prod.instances"], instancesBefore, "no new instance");
    t.is(res.report?.rpo.recoveryPointAt, time, "RPO from the restore time tagged by point-in-time-restore");
  },
);

test.serial("bad --use-instance values are refused before any change", async (t) => {
  const { base } = setup(t);
  await databaseFails();
  const missing = await runRunbook(runbook, [...base, "--use-instance", "nope", "--yes"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(missing.exitCode, EXIT.badInput);
  t.regex(missing.stdout, /--use-instance "nope" does not exist in us-east-1/);
  const malformed = await runRunbook(runbook, [...base, "--use-instance", "1; rm -rf /"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(malformed.exitCode, EXIT.badInput);
  t.regex(
    malformed.stdout,
    /invalid --use-instance "1; rm -rf \/": expected an RDS DB instance identifier: 1 to 63 letters, digits or hyphens/,
  );
});

test.serial("resuming a finished recovery changes nothing", async (t) => {
  const { base } = setup(t);
  await databaseFails();
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "dbr3", "--health-attempts", "1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(first.exitCode, EXIT.succeeded, first.stdout);
  const after = await state();
  const again = await runRunbook(runbook, [...base.slice(4), "--resume", "dbr3", "--yes"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(again.exitCode, EXIT.succeeded, again.stdout);
  t.deepEqual(await state(), after);
});

test.serial(
  "with Kubernetes in the outputs, the app deployment's env is set with kubectl (arguments passed, never a shell string)",
  async (t) => {
    const { mkdtempSync, writeFileSync, readFileSync, chmodSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const bin = mkdtempSync(join(tmpdir(), "fake-kubectl-"));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    const log = join(bin, "calls.log");
    writeFileSync(
      join(bin, "kubectl"),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> "${log}"; done\necho --- >> "${log}"\n`,
    );
    chmodSync(join(bin, "kubectl"), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    t.teardown(() => void (process.env.PATH = savedPath));

    const ws = workspace(t);
    const withK8s = {
      ...seeded().file,
      prod: {
        ...seeded().prod,
        kubernetes: {
          enabled: true,
          namespace: "eventchain",
          appDeployment: "eventchain-backend",
          cronJobs: [],
          serviceAccountRoleArn: null,
        },
      },
    };
    await databaseFails();
    const file = ws.writeOutputs(withK8s);
    const dry = await runRunbook(
      runbook,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--dry-run"],
      { aws: awsFor(moto().endpoint) },
    );
    t.regex(
      dry.stderr,
      /command kubectl --namespace eventchain set env deployment\/eventchain-backend DATABASE_HOST=<new address> DATABASE_PORT=5432/,
    );
    const res = await runRunbook(
      runbook,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
      { aws: awsFor(moto().endpoint) },
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    const host = (await secret()).host as string;
    const calls = readFileSync(log, "utf8")
      .split("---\n")
      .filter((c) => c.trim())
      .map((c) => c.trim().split("\n"));
    t.deepEqual(calls[0], [
      "--namespace",
      "eventchain",
      "set",
      "env",
      "deployment/eventchain-backend",
      `DATABASE_HOST=${host}`,
      "DATABASE_PORT=5432",
    ]);
    t.deepEqual(calls[1], [
      "--namespace",
      "eventchain",
      "rollout",
      "status",
      "deployment/eventchain-backend",
      "--timeout=2700s",
    ]);
  },
);
