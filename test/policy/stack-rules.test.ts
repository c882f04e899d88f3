import test from "ava";
import { policies } from "../../policy/rules.ts";
import { committedContext, stackViolations, violations, type FakeResource } from "../helpers/policy.ts";

const prod = policies(committedContext("prod"));
const dr = policies(committedContext("dr"));

const database: FakeResource = {
  type: "aws:rds/instance:Instance",
  name: "prod-database",
  props: { arn: "arn:aws:rds:us-east-1:1:db:eventchain-prod-db" },
};
const backupsReplication: FakeResource = {
  type: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  name: "prod-database-backups-to-dr",
  props: { sourceDbInstanceArn: "arn:aws:rds:us-east-1:1:db:eventchain-prod-db", kmsKeyId: "k", retentionPeriod: 30 },
  dependsOn: { sourceDbInstanceArn: ["prod-database"] },
};
const mediaBucket: FakeResource = {
  type: "aws:s3/bucket:Bucket",
  name: "prod-media",
  props: { bucket: "eventchain-media" },
};
const mediaReplication: FakeResource = {
  type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  name: "prod-media-replication",
  props: { bucket: "eventchain-media", rules: [{ id: "media", status: "Enabled", filter: { prefix: "media/" } }] },
};

test("the primary stack passes cross-region copies when the database and media are replicated", async (t) => {
  t.deepEqual(
    await stackViolations(prod, "cross-region-copies", [database, backupsReplication, mediaBucket, mediaReplication]),
    [],
  );
});

test("a database without backup replication or a copy action fails cross-region copies", async (t) => {
  const bad = await stackViolations(prod, "cross-region-copies", [database, mediaBucket, mediaReplication]);
  t.deepEqual(bad, [
    "prod-database: no cross-region copy: declare an aws.rds.InstanceAutomatedBackupsReplication for it (or an AWS Backup copy action); primary-database is critical (RPO 15 min)",
  ]);
});

test("an AWS Backup copy action counts as a cross-region copy of the database", async (t) => {
  const plan: FakeResource = {
    type: "aws:backup/plan:Plan",
    name: "prod-plan",
    props: {
      rules: [{ ruleName: "db", copyActions: [{ destinationVaultArn: "arn:aws:backup:us-west-2:1:backup-vault:dr" }] }],
    },
  };
  t.deepEqual(await stackViolations(prod, "cross-region-copies", [database, plan, mediaBucket, mediaReplication]), []);
});

test("a media bucket whose replication is disabled fails cross-region copies", async (t) => {
  const disabled = {
    ...mediaReplication,
    props: { ...mediaReplication.props, rules: [{ id: "media", status: "Disabled" }] },
  };
  const bad = await stackViolations(prod, "cross-region-copies", [database, backupsReplication, mediaBucket, disabled]);
  t.deepEqual(bad, [
    "prod-media: no cross-region copy: declare an enabled aws.s3.BucketReplicationConfig for it; media-storage is important (RPO 60 min)",
  ]);
});

test("the DR stack holds the copies, so cross-region copies does not apply to it", async (t) => {
  t.deepEqual(await stackViolations(dr, "cross-region-copies", [database, mediaBucket]), []);
});

test("a vault without a lock configuration fails vault-lock-on", async (t) => {
  const vault: FakeResource = {
    type: "aws:backup/vault:Vault",
    name: "prod-vault",
    props: { name: "eventchain-prod" },
  };
  const lock: FakeResource = {
    type: "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
    name: "prod-vault-lock",
    props: { backupVaultName: "eventchain-prod", minRetentionDays: 7 },
  };
  t.deepEqual(await stackViolations(prod, "vault-lock-on", [vault, lock]), []);
  t.deepEqual(await stackViolations(prod, "vault-lock-on", [vault]), [
    "prod-vault: no aws.backup.VaultLockConfiguration locks this vault",
  ]);
  const byDependency = { ...lock, props: { minRetentionDays: 7 }, dependsOn: { backupVaultName: ["prod-vault"] } };
  t.deepEqual(await stackViolations(prod, "vault-lock-on", [vault, byDependency]), []);
});

const tlsOnly = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "TlsOnly",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
  ],
};

test("a bucket policy must deny requests without TLS and allow nothing publicly", async (t) => {
  const policy = (doc: unknown): FakeResource => ({
    type: "aws:s3/bucketPolicy:BucketPolicy",
    name: "prod-backups-policy",
    props: { bucket: "b", policy: JSON.stringify(doc) },
  });
  t.deepEqual(await violations(prod, "buckets-private-tls-only", policy(tlsOnly)), []);
  t.deepEqual(await violations(prod, "buckets-private-tls-only", policy({ Statement: [] })), [
    "prod-backups-policy: no statement denies s3:* when aws:SecureTransport is false (TLS-only)",
  ]);
  const open = {
    Statement: [
      ...tlsOnly.Statement,
      { Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" },
    ],
  };
  t.deepEqual(await violations(prod, "buckets-private-tls-only", policy(open)), [
    'prod-backups-policy: a statement allows Principal "*" without a condition',
  ]);
});

test("a public access block with any flag off fails, naming the flags", async (t) => {
  const pab = (flags: Record<string, boolean>): FakeResource => ({
    type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    name: "prod-backups-pab",
    props: { bucket: "b", ...flags },
  });
  const all = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };
  t.deepEqual(await violations(prod, "buckets-private-tls-only", pab(all)), []);
  t.deepEqual(
    await violations(
      prod,
      "buckets-private-tls-only",
      pab({ ...all, blockPublicPolicy: false, restrictPublicBuckets: false }),
    ),
    ["prod-backups-pab: blockPublicPolicy, restrictPublicBuckets must be true"],
  );
});

test("every bucket needs its own public access block and bucket policy", async (t) => {
  const bucket: FakeResource = { type: "aws:s3/bucket:Bucket", name: "prod-backups", props: {} };
  const pab: FakeResource = {
    type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    name: "prod-backups-pab",
    props: {},
    dependsOn: { bucket: ["prod-backups"] },
  };
  const policy: FakeResource = {
    type: "aws:s3/bucketPolicy:BucketPolicy",
    name: "prod-backups-policy",
    props: {},
    dependsOn: { bucket: ["prod-backups"] },
  };
  t.deepEqual(
    await stackViolations(prod, "buckets-have-public-access-block-and-tls-policy", [bucket, pab, policy]),
    [],
  );
  t.deepEqual(await stackViolations(prod, "buckets-have-public-access-block-and-tls-policy", [bucket, pab]), [
    "prod-backups: no aws.s3.BucketPolicy (TLS-only) for this bucket",
  ]);
  t.deepEqual(await stackViolations(prod, "buckets-have-public-access-block-and-tls-policy", [bucket]), [
    "prod-backups: no aws.s3.BucketPublicAccessBlock for this bucket",
    "prod-backups: no aws.s3.BucketPolicy (TLS-only) for this bucket",
  ]);
});

test("IAM policies with wildcard actions on backup services fail; exact actions pass", async (t) => {
  const rule = "no-wildcard-actions-on-backup-resources";
  const rolePolicy = (actions: string[] | string, key = "Action"): FakeResource => ({
    type: "aws:iam/rolePolicy:RolePolicy",
    name: "prod-backup-job",
    props: {
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", [key]: actions, Resource: "arn:aws:s3:::b/*" }],
      }),
    },
  });
  t.deepEqual(await violations(prod, rule, rolePolicy(["s3:PutObject", "s3:GetObject", "kms:GenerateDataKey"])), []);
  t.deepEqual(await violations(prod, rule, rolePolicy(["s3:*", "backup:Delete*", "s3:PutObject"])), [
    "prod-backup-job: allows wildcard actions s3:*, backup:Delete*; list the exact actions",
  ]);
  t.deepEqual(await violations(prod, rule, rolePolicy("*")), [
    "prod-backup-job: allows wildcard actions *; list the exact actions",
  ]);
  t.deepEqual(await violations(prod, rule, rolePolicy(["iam:PassRole"], "NotAction")), [
    'prod-backup-job: allows wildcard actions NotAction ["iam:PassRole"]; list the exact actions',
  ]);
  const denyAll: FakeResource = {
    type: "aws:iam/policy:Policy",
    name: "deny",
    props: { policy: { Statement: [{ Effect: "Deny", Action: "s3:*", Resource: "*" }] } },
  };
  t.deepEqual(await violations(prod, rule, denyAll), []);
  const inline: FakeResource = {
    type: "aws:iam/role:Role",
    name: "prod-replication-role",
    props: {
      inlinePolicies: [
        {
          name: "x",
          policy: JSON.stringify({ Statement: { Effect: "Allow", Action: "s3:Replicate*", Resource: "*" } }),
        },
      ],
    },
  };
  t.deepEqual(await violations(prod, rule, inline), [
    "prod-replication-role: allows wildcard actions s3:Replicate*; list the exact actions",
  ]);
});

test("a policy document that is not JSON is reported by name, not skipped", async (t) => {
  const broken: FakeResource = { type: "aws:iam/policy:Policy", name: "broken", props: { policy: "{not json" } };
  await t.throwsAsync(violations(prod, "no-wildcard-actions-on-backup-resources", broken), {
    message: "broken: policy is not valid JSON",
  });
});
