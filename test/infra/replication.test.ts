import test from "ava";
import { ELASTICACHE_EXPORT_PREFIX } from "../../contract/backup-prefixes.ts";
import type { Evaluation } from "../../infra/offline/evaluate.ts";
import { committedStacks, evaluateWith, ofType, only, statements } from "../helpers/pulumi-mocks.ts";

const mediaReplication = (evaluation: Evaluation) =>
  only(evaluation, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "media-replication");

test("media replicates exactly as the plan's rule says", async (t) => {
  const { prod, dr } = await committedStacks();
  const config = mediaReplication(prod).inputs;
  t.is(config.bucket, prod.outputs.media.bucketName);
  t.is(config.rules.length, 1);
  const [rule] = config.rules;
  t.like(rule, {
    id: "EventChainMediaReplication",
    status: "Enabled",
    priority: 1,
    filter: { prefix: "media/" },
    deleteMarkerReplication: { status: "Enabled" },
  });
  t.like(rule.destination, {
    bucket: `arn:aws:s3:::${dr.outputs.media.bucketName}`,
    storageClass: "STANDARD_IA",
    replicationTime: { status: "Enabled", time: { minutes: 15 } },
    metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
    encryptionConfiguration: { replicaKmsKeyId: dr.outputs.media.kmsKeyArn },
  });
  t.is(prod.outputs.media.replicationPrefix, "media/");
  t.is(prod.outputs.media.rtcMinutes, 15);
});

test("both media buckets are versioned", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const [evaluation, bucket] of [
    [prod, prod.outputs.media.bucketName],
    [dr, dr.outputs.media.bucketName],
  ] as const) {
    const versioning = ofType(evaluation, "aws:s3/bucketVersioning:BucketVersioning").find(
      (r) => r.inputs.bucket === bucket,
    );
    t.is(versioning?.inputs.versioningConfiguration.status, "Enabled", evaluation.stack);
  }
});

test("the replication role reads only media/ and writes only replicas", async (t) => {
  const { prod } = await committedStacks();
  const role = only(prod, "aws:iam/role:Role", "media-role");
  t.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "s3.amazonaws.com" });
  const found = statements(prod).filter((s) => s.resource.name === "media-role-policy");
  const src = `arn:aws:s3:::${prod.outputs.media.bucketName}`;
  const dst = `arn:aws:s3:::${prod.outputs.media.replicaBucketName}`;
  const actions = Object.fromEntries(found.map((s) => [s.Action.join(","), s.Resource]));
  t.deepEqual(actions, {
    "s3:GetReplicationConfiguration,s3:ListBucket": [src],
    "s3:GetObjectVersionForReplication,s3:GetObjectVersionAcl,s3:GetObjectVersionTagging": [`${src}/media/*`],
    "s3:ReplicateObject,s3:ReplicateDelete,s3:ReplicateTags": [`${dst}/media/*`],
    "kms:Decrypt": [prod.outputs.media.kmsKeyArn],
    "kms:Encrypt,kms:GenerateDataKey": [(await committedStacks()).dr.outputs.media.kmsKeyArn],
  });
});

test("replication more than 15 minutes behind, or failing, alerts", async (t) => {
  const { prod } = await committedStacks();
  const latency = only(prod, "aws:cloudwatch/metricAlarm:MetricAlarm", /^media-.*-latency$/).inputs;
  t.like(latency, {
    namespace: "AWS/S3",
    metricName: "ReplicationLatency",
    threshold: 900,
    comparisonOperator: "GreaterThanThreshold",
  });
  t.deepEqual(latency.alarmActions, [prod.outputs.alerts.topicArn]);
  t.is(latency.okActions, undefined, "failures only");
  t.is(latency.dimensions.RuleId, "EventChainMediaReplication");
  const failed = only(prod, "aws:cloudwatch/metricAlarm:MetricAlarm", /EventChainMediaReplication-failed$/).inputs;
  t.like(failed, { metricName: "OperationsFailedReplication", threshold: 0 });
});

test("backend and frontend images replicate to the DR region", async (t) => {
  const { prod, dr } = await committedStacks();
  const replication = only(prod, "aws:ecr/replicationConfiguration:ReplicationConfiguration").inputs
    .replicationConfiguration;
  t.deepEqual(replication.rules[0].destinations, [{ region: "us-west-2", registryId: "111122223333" }]);
  const filters = replication.rules[0].repositoryFilters.map((f: any) => f.filter);
  t.true(filters.includes("eventchain/backend"));
  t.true(filters.includes("eventchain/frontend"));
  for (const repo of ofType(prod, "aws:ecr/repository:Repository"))
    t.true(repo.inputs.imageScanningConfiguration.scanOnPush);
  t.deepEqual(dr.outputs.ecrRepositories, prod.outputs.ecrRepositories);
});

test("the cache keeps daily snapshots in its window, encrypted at rest and in transit", async (t) => {
  const { prod, dr } = await committedStacks();
  const redis = only(prod, "aws:elasticache/replicationGroup:ReplicationGroup").inputs;
  t.like(redis, {
    snapshotRetentionLimit: 7,
    snapshotWindow: "04:00-05:00",
    maintenanceWindow: "sun:06:00-sun:07:00",
    atRestEncryptionEnabled: true,
    transitEncryptionEnabled: true,
    automaticFailoverEnabled: true,
  });
  t.regex(redis.finalSnapshotIdentifier, /^eventchain-prod-redis-final-\d{14}$/);
  t.is(prod.outputs.cache.replicationGroupId, "eventchain-prod-redis");
  t.is(dr.outputs.cache.replicationGroupId, null);
});

test("ElastiCache may export snapshots under redis/ and the redis-export- name prefix only", async (t) => {
  const { prod } = await committedStacks();
  const grants = statements(prod).filter(
    (s) => s.resource.type === "aws:s3/bucketPolicy:BucketPolicy" && s.Effect === "Allow",
  );
  const bucket = `arn:aws:s3:::${prod.outputs.backup.bucketName}`;
  t.deepEqual(grants.map((g) => g.Resource).sort(), [
    [bucket],
    [`${bucket}/redis/*`, `${bucket}/${ELASTICACHE_EXPORT_PREFIX}*`],
  ]);
  for (const grant of grants) t.deepEqual(grant.Principal, { Service: "us-east-1.elasticache-snapshot.amazonaws.com" });
});

test("without replication rules nothing is replicated and nothing claims it is", async (t) => {
  const evaluation = await evaluateWith(
    "prod",
    { "eventchain-dr:replication": { rules: [] } },
    { checkObjectives: false },
  );
  t.is(
    ofType(evaluation, "aws:s3/bucketReplicationConfig:BucketReplicationConfig").filter(
      (r) => r.inputs.bucket === evaluation.outputs.media.bucketName,
    ).length,
    0,
  );
  t.is(ofType(evaluation, "aws:iam/role:Role").filter((r) => r.name === "media-role").length, 0);
  t.is(evaluation.outputs.media.rtcMinutes, null);
  t.is(evaluation.outputs.media.replicationPrefix, "");
});

test("turning Replication Time Control off drops it from the rule and is refused for media", async (t) => {
  const rules = [{ id: "EventChainMediaReplication", prefix: "media/", rtcMinutes: null }];
  const evaluation = await evaluateWith("prod", { "eventchain-dr:replication": { rules } }, { checkObjectives: false });
  const [rule] = mediaReplication(evaluation).inputs.rules;
  t.is(rule.destination.replicationTime, undefined);
  t.is(evaluation.outputs.media.rtcMinutes, null);
  await t.throwsAsync(evaluateWith("prod", { "eventchain-dr:replication": { rules } }), {
    message:
      /eventchain-dr:replication\.rules\.0\.rtcMinutes: null is not allowed; expected 15: without Replication Time Control S3 gives no bound on replication lag, and media-storage is important \(RPO 60 min\)/,
  });
});

test("every logical backup is replicated into the DR region's locked bucket, deletions excepted", async (t) => {
  const { prod, dr } = await committedStacks();
  const config = ofType(prod, "aws:s3/bucketReplicationConfig:BucketReplicationConfig").find(
    (r) => r.inputs.bucket === prod.outputs.backup.bucketName,
  );
  t.truthy(config);
  const [rule] = config?.inputs.rules ?? [];
  t.like(rule, {
    id: "EventChainBackupCopies",
    filter: { prefix: "" },
    deleteMarkerReplication: { status: "Disabled" },
  });
  t.like(rule.destination, {
    bucket: `arn:aws:s3:::${dr.outputs.backup.bucketName}`,
    encryptionConfiguration: { replicaKmsKeyId: dr.outputs.backup.kmsKeyArn },
    replicationTime: { status: "Enabled", time: { minutes: 15 } },
  });
  const read = statements(prod).find(
    (s) => s.resource.name === "backups-role-policy" && s.Action.includes("s3:GetObjectVersionForReplication"),
  );
  t.true(read?.Action.includes("s3:GetObjectRetention"), "object-locked source: retention is replicated too");
  t.deepEqual(read?.Resource, [`${prod.outputs.backup.bucketArn}/*`]);
});

test("keeping logical backups in one region is refused for the cache's objective", async (t) => {
  await t.throwsAsync(evaluateWith("prod", { "eventchain-dr:backup": { replicateToPeer: false } }), {
    message:
      /eventchain-dr:backup\.replicateToPeer: false is not allowed; expected true: cache is standard \(RPO 1440 min\) and its only copies outside ElastiCache, the redis\/ exports, would stay in us-east-1/,
  });
  const evaluation = await evaluateWith(
    "prod",
    { "eventchain-dr:backup": { replicateToPeer: false } },
    { checkObjectives: false },
  );
  t.is(
    ofType(evaluation, "aws:s3/bucketReplicationConfig:BucketReplicationConfig").filter(
      (r) => r.inputs.bucket === evaluation.outputs.backup.bucketName,
    ).length,
    0,
  );
});
