/**
 * Choosing the DR region's recovery source among replicated automated backups, the DR vault's
 * AWS Backup recovery points and snapshots (copied by hand, or made by AWS Backup and listed by
 * RDS with SnapshotType "awsbackup"). Recorded responses in the shape of the AWS API references:
 * moto answers ListRecoveryPointsByBackupVault with a 404 and cannot make AWS Backup snapshots.
 */
import test, { type ExecutionContext } from "ava";
import { BackupClient } from "@aws-sdk/client-backup";
import { RDSClient } from "@aws-sdk/client-rds";
import "../helpers/moto.ts";
import { findRecoverySource } from "../../runbooks/aws/dr-database.ts";
import { fixture, startFaultProxy, type Rule } from "../helpers/fault-proxy.ts";

const NOTHING_UPSTREAM = "http://127.0.0.1:9";
const PROD_ARN = "arn:aws:rds:us-east-1:123456789012:db:eventchain-prod-db";
const EMPTY_SNAPSHOTS =
  '<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBSnapshotsResult><DBSnapshots/></DescribeDBSnapshotsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBSnapshotsResponse>';
const MOTO_404 = { status: 404, contentType: "text/html", body: "<!doctype html><title>404 Not Found</title>" };

async function clients(t: ExecutionContext, rule: Rule) {
  const proxy = await startFaultProxy(NOTHING_UPSTREAM, rule);
  t.teardown(() => proxy.close());
  const cfg = { region: "us-west-2", endpoint: proxy.endpoint, maxAttempts: 1 };
  const rds = new RDSClient(cfg);
  const backup = new BackupClient(cfg);
  t.teardown(() => {
    rds.destroy();
    backup.destroy();
  });
  return { proxy, rds, backup };
}

/** DescribeDBSnapshots answered per SnapshotType: `manual` and `awsbackup` recorded bodies. */
const snapshots = (r: { body: string }, manual: string, awsbackup: string) =>
  new URLSearchParams(r.body).get("SnapshotType") === "awsbackup" ? awsbackup : manual;

const find = (rds: RDSClient, backup: BackupClient, replicatedBackupsArn: string | null, warnings: string[] = []) =>
  findRecoverySource({
    rds,
    backup: { client: backup, vaultName: "eventchain-dr" },
    region: "us-west-2",
    sourceInstanceId: "eventchain-prod-db",
    sourceInstanceArn: PROD_ARN,
    replicatedBackupsArn,
    log: { info: () => undefined, warn: (m) => void warnings.push(m) },
  });

test("the DR vault's newest completed AWS Backup copy of the instance wins over an older copied snapshot", async (t) => {
  const { proxy, rds, backup } = await clients(t, (r) => {
    if (r.service === "backup")
      return {
        status: 200,
        contentType: "application/json",
        body: fixture("backup-list-recovery-points-by-backup-vault.json"),
      };
    if (r.action === "DescribeDBSnapshots")
      return { status: 200, body: snapshots(r, fixture("rds-describe-db-snapshots-copied.xml"), EMPTY_SNAPSHOTS) };
    return undefined;
  });
  const source = await find(rds, backup, null);
  // 12:00 is the newest COMPLETED point of eventchain-prod-db: the PARTIAL one at 18:00 and the
  // other database's at 20:00 do not count; the newest available copied snapshot is from 03:00.
  t.like(source, {
    method: "aws-backup",
    snapshotArn: "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-3f5a1c2e-7b9d-4e0f-a1b2-c3d4e5f60718",
    recoveryPointArn:
      "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-3f5a1c2e-7b9d-4e0f-a1b2-c3d4e5f60718",
    vaultName: "eventchain-dr",
    recoveryPointAt: "2026-01-15T12:00:00.000Z",
    recoveryPointSource:
      "AWS Backup recovery point arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-3f5a1c2e-7b9d-4e0f-a1b2-c3d4e5f60718 in vault eventchain-dr (us-west-2)",
  });
  t.true(
    source.considered!.includes("AWS Backup vault eventchain-dr: 2 completed recovery point(s) of eventchain-prod-db"),
  );
  t.true(source.considered!.includes("snapshots copied to us-west-2: 2 available"));
  const list = proxy.seen.find((r) => r.service === "backup")!;
  t.is(list.region, "us-west-2");
  t.regex(list.action, /^GET \/backup-vaults\/eventchain-dr\/recovery-points/);
});

test("replicated automated backups win when their latest restorable time is the newest point", async (t) => {
  const { rds, backup } = await clients(t, (r) => {
    if (r.action === "DescribeDBInstanceAutomatedBackups")
      return { status: 200, body: fixture("rds-describe-db-instance-automated-backups-replicated.xml") };
    if (r.service === "backup")
      return {
        status: 200,
        contentType: "application/json",
        body: fixture("backup-list-recovery-points-by-backup-vault.json"),
      };
    if (r.action === "DescribeDBSnapshots")
      return { status: 200, body: snapshots(r, fixture("rds-describe-db-snapshots-copied.xml"), EMPTY_SNAPSHOTS) };
    return undefined;
  });
  const source = await find(
    rds,
    backup,
    "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-6kf5qwrb2kz3xtu4lxmgqaeu3a",
  );
  t.like(source, { method: "replicated-backups", restoreTime: "2026-01-15T14:21:30.000Z" });
  t.true(source.considered!.some((l) => l.startsWith("AWS Backup vault eventchain-dr: 2 completed")));
});

test("with the Backup API answering moto's HTML 404, AWS Backup snapshots listed by RDS still count", async (t) => {
  const warnings: string[] = [];
  const { rds, backup } = await clients(t, (r) => {
    if (r.service === "backup") return MOTO_404;
    if (r.action === "DescribeDBSnapshots")
      return {
        status: 200,
        body: snapshots(
          r,
          fixture("rds-describe-db-snapshots-copied.xml"),
          fixture("rds-describe-db-snapshots-awsbackup.xml"),
        ),
      };
    return undefined;
  });
  const source = await find(rds, backup, null, warnings);
  t.like(source, {
    method: "aws-backup",
    snapshotArn: "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    recoveryPointAt: "2026-01-15T09:00:02.117Z",
    recoveryPointSource:
      "AWS Backup snapshot awsbackup:copyjob-9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d (us-west-2, listed by RDS)",
  });
  t.regex(warnings.join("\n"), /cannot list AWS Backup recovery points in vault eventchain-dr \(us-west-2\)/);
  t.true(source.considered!.some((l) => l.startsWith("AWS Backup vault eventchain-dr: unreadable")));
});

test("a recovery point listed by RDS too takes its snapshot's original time, and is counted once", async (t) => {
  const listing = JSON.parse(fixture("backup-list-recovery-points-by-backup-vault.json"));
  listing.RecoveryPoints = [
    {
      ...listing.RecoveryPoints[0],
      RecoveryPointArn:
        "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    },
  ];
  const { rds, backup } = await clients(t, (r) => {
    if (r.service === "backup") return { status: 200, contentType: "application/json", body: JSON.stringify(listing) };
    if (r.action === "DescribeDBSnapshots")
      return { status: 200, body: snapshots(r, EMPTY_SNAPSHOTS, fixture("rds-describe-db-snapshots-awsbackup.xml")) };
    return undefined;
  });
  const source = await find(rds, backup, null);
  t.like(source, {
    method: "aws-backup",
    recoveryPointArn:
      "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    recoveryPointAt: "2026-01-15T09:00:02.117Z",
  });
});

test("no source anywhere is a clear failure naming each place looked at", async (t) => {
  const { rds, backup } = await clients(t, (r) => {
    if (r.service === "backup") return { status: 200, contentType: "application/json", body: '{"RecoveryPoints":[]}' };
    if (r.action === "DescribeDBSnapshots") return { status: 200, body: EMPTY_SNAPSHOTS };
    return undefined;
  });
  await t.throwsAsync(find(rds, backup, null), {
    message:
      /^nothing to restore eventchain-prod-db from in us-west-2: no replicated automated backups, no AWS Backup recovery point in vault eventchain-dr and no available snapshot copied there \(replicated automated backups: none declared; AWS Backup vault eventchain-dr: 0 completed recovery point\(s\)/,
  });
});
