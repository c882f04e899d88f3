/**
 * check-dr-readiness against moto: a seeded healthy prod/dr pair passes, and each kind of drift,
 * seeded alone, is named in the table and fails the run. AWS Backup's recovery-point and restore
 * testing calls and ElastiCache's automatic snapshots are not emulated by moto: they answer
 * recorded responses in the shape of AWS's API reference (test/helpers/dr-readiness.ts).
 */
import test, { type ExecutionContext } from "ava";
import { CloudWatchClient, DeleteAlarmsCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { BatchDeleteImageCommand, ECRClient } from "@aws-sdk/client-ecr";
import { DisableKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { DeleteSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mirrorOutputs } from "../../rehearsal/stand-ins/aws-seed-failover.ts";
import { DR_REGION, PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { runbook } from "../../runbooks/check-dr-readiness.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { deploy, healthyPair, readinessRecorded, taskDefinition, type Recorded } from "../helpers/dr-readiness.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { awsFor } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const { moto, seeded, proxy } = useFailoverMoto(test);
const c = (region: string) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

const MISSING_SECRET = `arn:aws:secretsmanager:${DR_REGION}:123456789012:secret:eventchain/dr/never-created-AbCdEf`;
const fresh = (): Recorded => ({
  copyAgeMinutes: 60,
  snapshotAgeMinutes: 600,
  restoreTest: { ageMinutes: 90 },
  reported: [],
});

/** Runs the readiness check over the healthy pair, after `drift` changed one thing. */
async function check(
  t: ExecutionContext,
  drift: (pair: { prod: StackOutputs; dr: StackOutputs }) => Promise<void> = async () => undefined,
  recorded: Recorded = fresh(),
  extra: string[] = [],
) {
  const pair = await healthyPair(moto().endpoint, seeded());
  await drift(pair);
  const ws = workspace(t);
  const file = ws.writeOutputs({ prod: pair.prod, dr: pair.dr });
  const p = await proxy(t, readinessRecorded(recorded, pair.prod, pair.dr));
  const res = await runRunbook(
    runbook,
    ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", ...extra],
    {
      aws: awsFor(p.endpoint),
    },
  );
  return { res, pair, recorded };
}

/** The table's rows (kind, what, prod, DR) as printed. */
const rows = (stdout: string) =>
  stdout
    .split("\n")
    .map((l) =>
      /\| (task-definition|image-missing|database|secret-missing|kms-key|switch|outputs-mirror|backup-freshness) \| (.*?) \| (.*?) \| (.*?) \|/.exec(
        l,
      ),
    )
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ kind: m[1], what: m[2], prod: m[3], dr: m[4] }));

test.serial("a healthy pair passes: no drift, exit 0, the restore test validated and reported", async (t) => {
  const { res, recorded } = await check(t);
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.true((res.stdout + res.stderr).includes("No drift: DR has what the day needs."), res.stderr);
  t.deepEqual(rows(res.stdout + res.stderr), []);
  t.is(recorded.reported.length, 1);
  t.like(recorded.reported[0]!.body, { ValidationStatus: "SUCCESSFUL" });
});

test.serial("the job's run records the heartbeat of each fresh path, restore tests in the DR region", async (t) => {
  const { res } = await check(t, undefined, fresh(), ["--publish-metrics"]);
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  const jobs = async (region: string) =>
    (
      (
        await new CloudWatchClient(c(region)).send(
          new ListMetricsCommand({ Namespace: "EventChain/Backups", MetricName: "BackupSucceeded" }),
        )
      ).Metrics ?? []
    )
      .map(
        (m) =>
          `${m.Dimensions!.find((d) => d.Name === "Job")!.Value}/${m.Dimensions!.find((d) => d.Name === "Stack")!.Value}`,
      )
      .sort();
  t.deepEqual(await jobs(PRIMARY_REGION), [
    "aws-backup-dr-copies/prod",
    "ecr-replication/prod",
    "elasticache-snapshots/prod",
  ]);
  t.deepEqual(await jobs(DR_REGION), ["restore-tests/dr"]);
});

test.serial("a task definition that differs (memory) is named", async (t) => {
  const { res } = await check(t, async ({ dr }) =>
    deploy(
      moto().endpoint,
      dr,
      "backend",
      taskDefinition("backend", DR_REGION, dr.database.appConnectionSecretArn, { memory: "1024" }),
    ),
  );
  t.is(res.exitCode, EXIT.failed, res.stdout);
  t.deepEqual(rows(res.stdout + res.stderr), [
    {
      kind: "task-definition",
      what: `service eventchain-backend-prod / eventchain-backend-dr: task memory`,
      prod: "512",
      dr: "1024",
    },
  ]);
});

test.serial("an environment variable that differs is named by name, its values never printed", async (t) => {
  const { res } = await check(t, async ({ dr }) =>
    deploy(
      moto().endpoint,
      dr,
      "frontend",
      taskDefinition("frontend", DR_REGION, dr.database.appConnectionSecretArn, {
        env: { LOG_LEVEL: "debug-secret-value" },
      }),
    ),
  );
  t.is(res.exitCode, EXIT.failed);
  t.deepEqual(rows(res.stdout + res.stderr), [
    {
      kind: "task-definition",
      what: "service eventchain-frontend-prod / eventchain-frontend-dr: container frontend environment LOG_LEVEL",
      prod: "differs",
      dr: "differs",
    },
  ]);
  t.false((res.stdout + res.stderr).includes("debug-secret-value"));
});

test.serial("an image that differs, and one missing from the DR registry, are named", async (t) => {
  const { res } = await check(t, async ({ dr }) => {
    await deploy(
      moto().endpoint,
      dr,
      "backend",
      taskDefinition("backend", DR_REGION, dr.database.appConnectionSecretArn, {
        image: `123456789012.dkr.ecr.${DR_REGION}.amazonaws.com/eventchain/backend:0.9.0`,
      }),
    );
    await new ECRClient(c(DR_REGION)).send(
      new BatchDeleteImageCommand({ repositoryName: "eventchain/frontend", imageIds: [{ imageTag: "1.0.0" }] }),
    );
  });
  t.is(res.exitCode, EXIT.failed);
  const r = rows(res.stdout + res.stderr);
  t.true(
    r.some((x) => x.kind === "task-definition" && x.what.endsWith("container backend image")),
    res.stdout + res.stderr,
  );
  t.true(
    r.some(
      (x) =>
        x.kind === "image-missing" &&
        x.what === "image eventchain/frontend:1.0.0" &&
        x.dr === `not in ECR ${DR_REGION}`,
    ),
    res.stdout + res.stderr,
  );
});

test.serial("an engine version that differs from prod's is named", async (t) => {
  const { res } = await check(t, async (pair) => {
    pair.dr = { ...pair.dr, database: { ...pair.dr.database, engineVersion: "15.5" } };
    await mirrorOutputs(moto().endpoint, [pair.prod, pair.dr]);
  });
  t.is(res.exitCode, EXIT.failed);
  t.true(
    rows(res.stdout + res.stderr).some(
      (x) => x.kind === "database" && x.what === "engine version" && x.prod === "15.7" && x.dr === "15.5",
    ),
    res.stdout + res.stderr,
  );
});

test.serial(
  "a DR secret scheduled for deletion, one that does not exist and a disabled DR key are named",
  async (t) => {
    const { res } = await check(t, async ({ dr }) => {
      // Scheduled for deletion (moto answers a forced delete of this secret with a 500).
      await new SecretsManagerClient(c(DR_REGION)).send(
        new DeleteSecretCommand({ SecretId: dr.database.appConnectionSecretArn, RecoveryWindowInDays: 7 }),
      );
      await new KMSClient(c(DR_REGION)).send(new DisableKeyCommand({ KeyId: dr.database.kmsKeyArn.split("/").pop() }));
      await deploy(moto().endpoint, dr, "frontend", taskDefinition("frontend", DR_REGION, MISSING_SECRET));
    });
    t.is(res.exitCode, EXIT.failed);
    const r = rows(res.stdout + res.stderr);
    t.true(
      r.some((x) => x.kind === "secret-missing"),
      res.stdout + res.stderr,
    );
    t.true(
      r.some((x) => x.kind === "kms-key" && x.dr === "state Disabled"),
      res.stdout + res.stderr,
    );
  },
);

test.serial("a switch alarm removed by hand is named", async (t) => {
  const { res } = await check(t, async ({ prod }) => {
    await new CloudWatchClient(c(DR_REGION)).send(
      new DeleteAlarmsCommand({ AlarmNames: [prod.failover.switch.alarmName] }),
    );
  });
  t.is(res.exitCode, EXIT.failed);
  t.true(
    rows(res.stdout + res.stderr).some((x) => x.kind === "switch" && x.dr === "does not exist"),
    res.stdout + res.stderr,
  );
});

test.serial("a stale outputs mirror is named", async (t) => {
  const { res } = await check(t, async ({ prod, dr }) => {
    await mirrorOutputs(moto().endpoint, [{ ...prod, ecrRepositories: ["eventchain/old"] }, dr]);
  });
  t.is(res.exitCode, EXIT.failed);
  t.true(
    rows(res.stdout + res.stderr).some((x) => x.kind === "outputs-mirror" && x.dr.startsWith("stale copy")),
    res.stdout + res.stderr,
  );
});

test.serial("old DR copies, an old snapshot and no validated restore test are named", async (t) => {
  const { res } = await check(t, undefined, {
    copyAgeMinutes: 2 * 1440,
    snapshotAgeMinutes: 3 * 1440,
    restoreTest: null,
    reported: [],
  });
  t.is(res.exitCode, EXIT.failed);
  t.deepEqual(
    rows(res.stdout + res.stderr)
      .filter((x) => x.kind === "backup-freshness")
      .map((x) => x.what)
      .sort(),
    ["aws-backup-dr-copies", "elasticache-snapshots", "restore-tests"],
  );
});

test.serial("a restored instance that fails validation is reported FAILED, with the reason", async (t) => {
  const { res, recorded } = await check(t, async (pair) => {
    pair.prod = { ...pair.prod, database: { ...pair.prod.database, dbName: "tickets" } };
    await mirrorOutputs(moto().endpoint, [pair.prod, pair.dr]);
  });
  t.is(res.exitCode, EXIT.failed);
  t.like(recorded.reported[0]!.body, { ValidationStatus: "FAILED" });
  t.regex(String(recorded.reported[0]!.body.ValidationStatusMessage), /database name eventchain, expected tickets/);
});
