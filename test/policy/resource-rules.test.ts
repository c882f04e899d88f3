import test from "ava";
import { policies } from "../../policy/rules.ts";
import { committedContext, violations, type FakeResource } from "../helpers/policy.ts";

const ctx = committedContext("prod");
const all = policies(ctx);
const RDS = "aws:rds/instance:Instance";

const goodDatabase = (props: Record<string, unknown> = {}, protect = true): FakeResource => ({
  type: RDS,
  name: "prod-database",
  protect,
  props: {
    backupRetentionPeriod: 30,
    deletionProtection: true,
    skipFinalSnapshot: false,
    finalSnapshotIdentifier: "eventchain-prod-db-final-1a2b3c",
    deleteAutomatedBackups: false,
    storageEncrypted: true,
    kmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/abc",
    ...props,
  },
});

test("every rule of the pack is mandatory and named once", (t) => {
  const names = all.map((p) => p.name);
  t.is(new Set(names).size, names.length);
  t.true(all.every((p) => p.enforcementLevel === "mandatory"));
  t.true(names.length >= 9);
});

test("a database kept 30 days passes the retention rule; 7 days fails naming the tier", async (t) => {
  t.deepEqual(await violations(all, "backup-retention-meets-tier", goodDatabase()), []);
  const bad = await violations(all, "backup-retention-meets-tier", goodDatabase({ backupRetentionPeriod: 7 }));
  t.deepEqual(bad, [
    "prod-database: backupRetentionPeriod is 7 days; primary-database is critical, whose backups must be kept at least 30 days",
  ]);
});

test("backup plan rules and their copies must keep backups for the tier's floor", async (t) => {
  const plan = (deleteAfter: number, copyDeleteAfter: number): FakeResource => ({
    type: "aws:backup/plan:Plan",
    name: "prod-backup-plan",
    props: {
      rules: [
        {
          ruleName: "database-6h",
          lifecycle: { deleteAfter },
          copyActions: [
            {
              destinationVaultArn: "arn:aws:backup:us-west-2:1:backup-vault:dr",
              lifecycle: { deleteAfter: copyDeleteAfter },
            },
          ],
        },
      ],
    },
  });
  t.deepEqual(await violations(all, "backup-retention-meets-tier", plan(30, 30)), []);
  const bad = await violations(all, "backup-retention-meets-tier", plan(30, 5));
  t.is(bad.length, 1);
  t.regex(bad[0], /rule database-6h copy lifecycle.deleteAfter is 5 days; primary-database is critical/);
});

test("lifecycle expiry of a backup-bucket prefix is checked against the tier of its data", async (t) => {
  const lifecycle = (days: number): FakeResource => ({
    type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    name: "prod-backups-lifecycle",
    props: {
      rules: [
        { id: "database", status: "Enabled", filter: { prefix: "database/" }, expiration: { days } },
        { id: "redis", status: "Enabled", filter: { prefix: "redis/" }, expiration: { days: 7 } },
      ],
    },
  });
  t.deepEqual(await violations(all, "backup-retention-meets-tier", lifecycle(30)), []);
  const bad = await violations(all, "backup-retention-meets-tier", lifecycle(29));
  t.deepEqual(bad, [
    "prod-backups-lifecycle: rule database (database/) expiration is 29 days; primary-database is critical, whose backups must be kept at least 30 days",
  ]);
  const noncurrent: FakeResource = {
    ...lifecycle(30),
    props: {
      rules: [
        {
          id: "database",
          status: "Enabled",
          filter: { prefix: "database/" },
          expiration: { days: 30 },
          noncurrentVersionExpiration: { noncurrentDays: 1 },
        },
      ],
    },
  };
  t.deepEqual(await violations(all, "backup-retention-meets-tier", noncurrent), [
    "prod-backups-lifecycle: rule database (database/) noncurrent-version expiration is 1 days; primary-database is critical, whose backups must be kept at least 30 days",
  ]);
});

test("a cache without snapshots fails the retention rule", async (t) => {
  const cache = (limit?: number): FakeResource => ({
    type: "aws:elasticache/replicationGroup:ReplicationGroup",
    name: "prod-cache",
    props: { snapshotRetentionLimit: limit },
  });
  t.deepEqual(await violations(all, "backup-retention-meets-tier", cache(7)), []);
  t.deepEqual(await violations(all, "backup-retention-meets-tier", cache()), [
    "prod-cache: snapshotRetentionLimit is 0 days; cache is standard, whose backups must be kept at least 7 days",
  ]);
});

test("PITR is required for the critical database", async (t) => {
  t.deepEqual(await violations(all, "pitr-for-critical-data", goodDatabase()), []);
  const bad = await violations(all, "pitr-for-critical-data", goodDatabase({ backupRetentionPeriod: 0 }));
  t.is(bad.length, 1);
  t.regex(bad[0], /point-in-time restore is off, but primary-database is critical \(RPO 15 min\)/);
});

test("PITR is not required when the database's tier accepts a day of loss", async (t) => {
  const relaxed = policies({ ...ctx, classification: { ...ctx.classification, "primary-database": "standard" } });
  t.deepEqual(await violations(relaxed, "pitr-for-critical-data", goodDatabase({ backupRetentionPeriod: 0 })), []);
});

test("a database without deletion protection, final snapshot or protect fails each named check", async (t) => {
  t.deepEqual(await violations(all, "deletion-protection-and-final-snapshots", goodDatabase()), []);
  const bad = await violations(
    all,
    "deletion-protection-and-final-snapshots",
    goodDatabase(
      {
        deletionProtection: false,
        skipFinalSnapshot: true,
        finalSnapshotIdentifier: undefined,
        deleteAutomatedBackups: true,
      },
      false,
    ),
  );
  t.deepEqual(bad, [
    "prod-database: deletionProtection must be true",
    "prod-database: skipFinalSnapshot must be false: deleting the database must leave a final snapshot",
    "prod-database: finalSnapshotIdentifier must be set (unique per instance, so a re-create does not collide)",
    "prod-database: deleteAutomatedBackups must be false: otherwise deleting the instance deletes its automated backups",
    "prod-database: the resource option protect must be true",
  ]);
});

test("an unprotected or force-destroyable vault fails deletion safety", async (t) => {
  const vault = (forceDestroy: boolean, protect: boolean): FakeResource => ({
    type: "aws:backup/vault:Vault",
    name: "prod-vault",
    protect,
    props: { forceDestroy, kmsKeyArn: "arn:aws:kms:us-east-1:1:key/k" },
  });
  t.deepEqual(await violations(all, "deletion-protection-and-final-snapshots", vault(false, true)), []);
  t.is((await violations(all, "deletion-protection-and-final-snapshots", vault(true, false))).length, 2);
});

test("encryption needs customer keys on databases, vaults, buckets and caches", async (t) => {
  const rule = "encryption-at-rest-customer-keys";
  t.deepEqual(await violations(all, rule, goodDatabase()), []);
  t.deepEqual(await violations(all, rule, goodDatabase({ storageEncrypted: false, kmsKeyId: undefined })), [
    "prod-database: storageEncrypted must be true",
    "prod-database: kmsKeyId must name a customer-managed KMS key (the AWS-managed aws/rds key cannot be shared or copied across regions)",
  ]);
  const sse = (sseAlgorithm: string, kmsMasterKeyId?: string): FakeResource => ({
    type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    name: "prod-backups-sse",
    props: { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm, kmsMasterKeyId } }] },
  });
  t.deepEqual(await violations(all, rule, sse("aws:kms", "arn:aws:kms:us-east-1:1:key/k")), []);
  t.deepEqual(await violations(all, rule, sse("AES256")), [
    'prod-backups-sse: sseAlgorithm is "AES256"; expected "aws:kms" or "aws:kms:dsse"',
    "prod-backups-sse: kmsMasterKeyId must name a customer-managed KMS key",
  ]);
  const cache: FakeResource = {
    type: "aws:elasticache/replicationGroup:ReplicationGroup",
    name: "prod-cache",
    props: { atRestEncryptionEnabled: true, kmsKeyId: "k", transitEncryptionEnabled: false },
  };
  t.deepEqual(await violations(all, rule, cache), ["prod-cache: transitEncryptionEnabled must be true"]);
  t.deepEqual(
    await violations(all, rule, { type: "aws:kms/key:Key", name: "prod-key", props: { enableKeyRotation: false } }),
    ["prod-key: enableKeyRotation must be true"],
  );
  t.deepEqual(await violations(all, rule, { type: "aws:backup/vault:Vault", name: "prod-vault", props: {} }), [
    "prod-vault: kmsKeyArn must name a customer-managed KMS key",
  ]);
});

const replication = (destination: Record<string, unknown>, prefix = "media/"): FakeResource => ({
  type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  name: "prod-media-replication",
  props: {
    rules: [
      {
        id: "EventChainMediaReplication",
        status: "Enabled",
        filter: { prefix },
        destination: { bucket: "arn:aws:s3:::dr-media", storageClass: "STANDARD_IA", ...destination },
      },
    ],
  },
});
const rtcOn = {
  replicationTime: { status: "Enabled", time: { minutes: 15 } },
  metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
};

test("replication of media (important) needs RTC and metrics", async (t) => {
  t.deepEqual(await violations(all, "rtc-on-replication", replication(rtcOn)), []);
  t.deepEqual(await violations(all, "rtc-on-replication", replication({})), [
    "prod-media-replication: rule EventChainMediaReplication (media/): replicationTime must be Enabled with 15 minutes; media-storage is important (RPO 60 min)",
    "prod-media-replication: rule EventChainMediaReplication: metrics must be Enabled so replication latency can alert",
  ]);
});

test("replication of standard data needs RTC too: without it S3 bounds nothing", async (t) => {
  t.deepEqual(await violations(all, "rtc-on-replication", replication(rtcOn, "redis/")), []);
  const bad = await violations(all, "rtc-on-replication", replication({ metrics: rtcOn.metrics }, "redis/"));
  t.deepEqual(bad, [
    "prod-media-replication: rule EventChainMediaReplication (redis/): replicationTime must be Enabled with 15 minutes; cache is standard (RPO 1440 min)",
  ]);
});
