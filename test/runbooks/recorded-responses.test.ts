/**
 * Recorded-response tests: calls moto does not emulate faithfully, answered with responses
 * shaped like real AWS's (test/fixtures/aws/*.xml, after the RDS API reference examples).
 * - RestoreDBInstanceToPointInTime with SourceDBInstanceAutomatedBackupsArn: moto answers 500.
 * - DescribeDBInstanceAutomatedBackups in the DR region: moto returns nothing, and never a RestoreWindow.
 * - Copied snapshots in states other than available: moto makes every copy available at once.
 * - Retained automated backups of a deleted instance: moto keeps them, without a RestoreWindow.
 */
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import { RDSClient, type DBInstance } from "@aws-sdk/client-rds";
import "../helpers/moto.ts";
import { findRecoverySource, restoreInRegion } from "../../runbooks/aws/dr-database.ts";
import { latestRestorePoint, restoreWindowOf, settingsFromOutputs } from "../../runbooks/aws/rds.ts";
import { checkRestoreTime } from "../../runbooks/lib/restore-engine.ts";
import { fixture, startFaultProxy, type Rule } from "../helpers/fault-proxy.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";

const NOTHING_UPSTREAM = "http://127.0.0.1:9";

async function recorded(t: ExecutionContext, rule: Rule, region = "us-west-2") {
  const proxy = await startFaultProxy(NOTHING_UPSTREAM, rule);
  t.teardown(() => proxy.close());
  const rds = new RDSClient({ region, endpoint: proxy.endpoint, maxAttempts: 1 });
  t.teardown(() => rds.destroy());
  return { proxy, rds };
}
const logger = (warnings: string[] = []) => ({ info: () => undefined, warn: (m: string) => void warnings.push(m) });
const params = (body: string) => Object.fromEntries(new URLSearchParams(body));

test("replicated automated backups are chosen at their latest restorable time", async (t) => {
  const { proxy, rds } = await recorded(t, (r) =>
    r.action === "DescribeDBInstanceAutomatedBackups"
      ? { status: 200, body: fixture("rds-describe-db-instance-automated-backups-replicated.xml") }
      : undefined,
  );
  const arn = "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-6kf5qwrb2kz3xtu4lxmgqaeu3a";
  const source = await findRecoverySource({
    rds,
    region: "us-west-2",
    sourceInstanceId: "eventchain-prod-db",
    sourceInstanceArn: null,
    replicatedBackupsArn: arn,
    log: logger(),
  });
  t.like(source, {
    method: "replicated-backups",
    automatedBackupsArn: arn,
    restoreTime: "2026-01-15T14:21:30.000Z",
    earliest: "2026-01-08T14:02:11.000Z",
    recoveryPointAt: "2026-01-15T14:21:30.000Z",
    recoveryPointSource: "latest restorable time of the automated backups replicated to us-west-2",
  });
  t.is(proxy.seen[0]!.region, "us-west-2");
  t.is(params(proxy.seen[0]!.body).DBInstanceAutomatedBackupsArn, arn);
});

test("the cross-region restore names the replicated backups, the time and the DR settings", async (t) => {
  const { proxy, rds } = await recorded(t, (r) =>
    r.action === "RestoreDBInstanceToPointInTime"
      ? { status: 200, body: fixture("rds-restore-db-instance-to-point-in-time.xml") }
      : undefined,
  );
  const dr = sampleOutputs("dr");
  const status = await restoreInRegion(
    rds,
    {
      method: "replicated-backups",
      automatedBackupsArn: "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-1",
      restoreTime: "2026-01-15T14:21:30.000Z",
      earliest: null,
      recoveryPointAt: "2026-01-15T14:21:30.000Z",
      recoveryPointSource: "x",
    },
    "eventchain-dr-db",
    settingsFromOutputs(dr.database),
    "region-failover",
    "run-1",
  );
  t.is(status, "creating");
  const p = params(proxy.seen[0]!.body);
  t.like(p, {
    Action: "RestoreDBInstanceToPointInTime",
    SourceDBInstanceAutomatedBackupsArn: "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-1",
    TargetDBInstanceIdentifier: "eventchain-dr-db",
    RestoreTime: "2026-01-15T14:21:30Z",
    DBInstanceClass: dr.database.instanceClass,
    DBSubnetGroupName: dr.database.subnetGroupName,
    DBParameterGroupName: dr.database.parameterGroupName,
    "VpcSecurityGroupIds.VpcSecurityGroupId.1": dr.database.securityGroupIds[0],
    PubliclyAccessible: "false",
    DeletionProtection: "true",
    MultiAZ: "true",
  });
  t.false("SourceDBInstanceIdentifier" in p, "never restores from the primary region's instance");
  t.false("UseLatestRestorableTime" in p, "the restore time is fixed once, in the journal");
});

test("an emulator's HTML 500 for replicated backups falls back to the newest available copied snapshot", async (t) => {
  const warnings: string[] = [];
  const { rds } = await recorded(t, (r) => {
    if (r.action === "DescribeDBInstanceAutomatedBackups")
      return { status: 500, body: "<!doctype html><title>500 Internal Server Error</title>", contentType: "text/html" };
    if (r.action === "DescribeDBSnapshots")
      return { status: 200, body: fixture("rds-describe-db-snapshots-copied.xml") };
    return undefined;
  });
  const source = await findRecoverySource({
    rds,
    region: "us-west-2",
    sourceInstanceId: "eventchain-prod-db",
    sourceInstanceArn: null,
    replicatedBackupsArn: "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-1",
    log: logger(warnings),
  });
  t.like(source, {
    method: "copied-snapshot",
    snapshotId: "eventchain-prod-db-2026-01-15-copy",
    recoveryPointAt: "2026-01-15T03:00:00.000Z",
  });
  t.regex(warnings[0]!, /cannot read replicated automated backups in us-west-2: .*looking at the other sources/);
});

test("no replicated backups and no copied snapshot is a clear failure", async (t) => {
  const empty =
    '<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBSnapshotsResult><DBSnapshots/></DescribeDBSnapshotsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBSnapshotsResponse>';
  const { rds } = await recorded(t, (r) =>
    r.action === "DescribeDBSnapshots" ? { status: 200, body: empty } : undefined,
  );
  await t.throwsAsync(
    findRecoverySource({
      rds,
      region: "us-west-2",
      sourceInstanceId: "eventchain-prod-db",
      sourceInstanceArn: null,
      replicatedBackupsArn: null,
      log: logger(),
    }),
    {
      message:
        /nothing to restore eventchain-prod-db from in us-west-2: no replicated automated backups, no AWS Backup recovery point and no available snapshot copied there/,
    },
  );
});

test("the restorable window's earliest time comes from RDS's RestoreWindow", async (t) => {
  const { rds } = await recorded(
    t,
    (r) =>
      r.action === "DescribeDBInstanceAutomatedBackups"
        ? { status: 200, body: fixture("rds-describe-db-instance-automated-backups-source.xml") }
        : undefined,
    "us-east-1",
  );
  const instance: DBInstance = {
    DBInstanceIdentifier: "eventchain-prod-db",
    LatestRestorableTime: new Date("2026-01-15T14:26:40Z"),
    BackupRetentionPeriod: 7,
    InstanceCreateTime: new Date("2025-06-01T09:00:00Z"),
  };
  const window = await restoreWindowOf(rds, instance, new Date("2026-01-15T14:30:00Z"));
  t.deepEqual(window, {
    earliest: new Date("2026-01-08T14:02:11Z"),
    latest: new Date("2026-01-15T14:26:40Z"),
    source: "eventchain-prod-db",
  });
  t.throws(() => checkRestoreTime(new Date("2026-01-08T14:00:00Z"), window), {
    message:
      "restore time 2026-01-08T14:00:00.000Z is outside the restorable window of eventchain-prod-db: expected a time between 2026-01-08T14:02:11.000Z (earliest) and 2026-01-15T14:26:40.000Z (latest)",
  });
  t.notThrows(() => checkRestoreTime(new Date("2026-01-15T14:26:40Z"), window));
});

test("without a RestoreWindow the earliest time is bounded by the retention period", async (t) => {
  const none =
    '<DescribeDBInstanceAutomatedBackupsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstanceAutomatedBackupsResult><DBInstanceAutomatedBackups/></DescribeDBInstanceAutomatedBackupsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBInstanceAutomatedBackupsResponse>';
  const { rds } = await recorded(t, () => ({ status: 200, body: none }), "us-east-1");
  const now = new Date("2026-01-15T14:30:00Z");
  const old: DBInstance = {
    DBInstanceIdentifier: "db",
    LatestRestorableTime: now,
    BackupRetentionPeriod: 7,
    InstanceCreateTime: new Date("2025-01-01T00:00:00Z"),
  };
  t.deepEqual((await restoreWindowOf(rds, old, now)).earliest, new Date("2026-01-08T14:30:00Z"));
  const young: DBInstance = { ...old, InstanceCreateTime: new Date("2026-01-14T00:00:00Z") };
  t.deepEqual((await restoreWindowOf(rds, young, now)).earliest, new Date("2026-01-14T00:00:00Z"));
  await t.throwsAsync(restoreWindowOf(rds, { DBInstanceIdentifier: "db", BackupRetentionPeriod: 0 }, now), {
    message: /db reports no LatestRestorableTime: automated backups are off \(BackupRetentionPeriod 0\)/,
  });
});

test("checkRestoreTime accepts exactly the times inside the window", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e12 }),
      fc.integer({ min: 0, max: 1e10 }),
      fc.integer({ min: -2e10, max: 2e10 }),
      (start, length, offset) => {
        const window = { earliest: new Date(start), latest: new Date(start + length), source: "db" };
        const time = new Date(start + offset);
        const inside = offset >= 0 && offset <= length;
        let accepted = true;
        try {
          checkRestoreTime(time, window);
        } catch {
          accepted = false;
        }
        return accepted === inside;
      },
    ),
  );
  t.pass();
});

test("a deleted instance is recovered from its retained automated backups", async (t) => {
  const { proxy, rds } = await recorded(
    t,
    (r) => {
      if (r.action === "DescribeDBInstances")
        return { status: 404, body: fixture("rds-error-db-instance-not-found.xml") };
      if (r.action === "DescribeDBInstanceAutomatedBackups")
        return { status: 200, body: fixture("rds-describe-db-instance-automated-backups-retained.xml") };
      return undefined;
    },
    "us-east-1",
  );
  const point = await latestRestorePoint(rds, "eventchain-prod-db", "db-ABCDEFGHIJKLMNOPQRSTUVWXY");
  t.deepEqual(point, {
    method: "retained-backups",
    sourceDbiResourceId: "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
    restoreTime: "2026-01-15T14:12:05.000Z",
    recoveryPointAt: "2026-01-15T14:12:05.000Z",
    recoveryPointSource: "latest restorable time of the retained automated backups of eventchain-prod-db",
  });
  t.is(params(proxy.seen[1]!.body).DbiResourceId, "db-ABCDEFGHIJKLMNOPQRSTUVWXY");
  await t.throwsAsync(latestRestorePoint(rds, "eventchain-prod-db", null), {
    message: /eventchain-prod-db does not exist and the outputs name no resourceId/,
  });
});
