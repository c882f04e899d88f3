import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson, serviceTrust } from "./iam.ts";
import { customerKey } from "./kms.ts";
import { SecureBucket } from "./secure-bucket.ts";

/** One replication rule as the plan states it. */
export interface MediaReplicationRule {
  id: string;
  /** Key prefix to replicate, e.g. media/. */
  prefix: string;
  /** Storage class of the replicas, e.g. STANDARD_IA. */
  storageClass: string;
  /** Replication Time Control threshold (S3 supports 15); null turns RTC off. */
  rtcMinutes: number | null;
  /** Replication metrics event threshold (S3 supports 15). */
  metricsMinutes: number;
  /** Replicate delete markers. */
  deleteMarkers: boolean;
}

export interface MediaReplicationArgs {
  rules: MediaReplicationRule[];
  /** The versioned replica bucket in the DR region (from the dr stack). */
  destinationBucketName: pulumi.Input<string>;
  /** The replica bucket's KMS key in the DR region. */
  destinationKmsKeyArn: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** SNS topic for the replication-latency and failed-operation alarms. */
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * The media bucket and the plan's S3 cross-region replication rule, exactly: prefix `media/`,
 * destination in the DR region, STANDARD_IA, Replication Time Control 15 minutes, metrics with a
 * 15-minute threshold, delete markers replicated, versioning on both sides, and a replication
 * role that may read only the replicated prefix and write only replicas. Alarms fire when
 * replication falls behind 15 minutes or operations fail (failures only).
 */
export class MediaReplication extends pulumi.ComponentResource {
  readonly source: SecureBucket;
  readonly kmsKey: aws.kms.Key;
  readonly role?: aws.iam.Role;
  readonly replication?: aws.s3.BucketReplicationConfig;

  constructor(name: string, args: MediaReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:MediaReplication", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, "Media assets", parent);
    this.source = new SecureBucket(`${name}-source`, { kmsKeyArn: this.kmsKey.arn }, parent);
    const destinationArn = pulumi.interpolate`arn:aws:s3:::${args.destinationBucketName}`;
    const src = this.source.arn;
    // No rules: nothing replicates (the config check reports the objective this misses).
    if (args.rules.length > 0) {
      const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: serviceTrust("s3.amazonaws.com", args.accountId) }, parent);
      this.role = role;
      new aws.iam.RolePolicy(`${name}-role-policy`, {
        role: role.id,
        policy: policyJson([
          { Sid: "ReadReplicationConfig", Effect: "Allow", Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource: [src] },
          {
            Sid: "ReadSourceVersions",
            Effect: "Allow",
            Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            Resource: args.rules.map((r) => pulumi.interpolate`${src}/${r.prefix}*`),
          },
          {
            Sid: "WriteReplicas",
            Effect: "Allow",
            Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            Resource: args.rules.map((r) => pulumi.interpolate`${destinationArn}/${r.prefix}*`),
          },
          { Sid: "DecryptSource", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [this.kmsKey.arn] },
          { Sid: "EncryptReplicas", Effect: "Allow", Action: ["kms:Encrypt", "kms:GenerateDataKey"], Resource: [args.destinationKmsKeyArn] },
        ]),
      }, parent);
      this.replication = new aws.s3.BucketReplicationConfig(`${name}-replication`, {
        bucket: this.source.bucket.id,
        role: role.arn,
        rules: args.rules.map((rule, index) => ({
          id: rule.id,
          status: "Enabled",
          priority: index + 1,
          filter: { prefix: rule.prefix },
          deleteMarkerReplication: { status: rule.deleteMarkers ? "Enabled" : "Disabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: destinationArn,
            storageClass: rule.storageClass,
            encryptionConfiguration: { replicaKmsKeyId: args.destinationKmsKeyArn },
            ...(rule.rtcMinutes === null ? {} : { replicationTime: { status: "Enabled", time: { minutes: rule.rtcMinutes } } }),
            metrics: { status: "Enabled", eventThreshold: { minutes: rule.metricsMinutes } },
          },
        })),
      }, { ...parent, dependsOn: [this.source.versioning] });
    }
    for (const rule of args.rules) {
      const dimensions = { SourceBucket: this.source.bucketName, DestinationBucket: args.destinationBucketName, RuleId: rule.id };
      new aws.cloudwatch.MetricAlarm(`${name}-${rule.id}-latency`, {
        alarmDescription: `S3 replication of ${rule.prefix} is more than ${rule.rtcMinutes ?? 15} minutes behind`,
        namespace: "AWS/S3",
        metricName: "ReplicationLatency",
        dimensions,
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: (rule.rtcMinutes ?? 15) * 60,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [args.alarmTopicArn],
      }, parent);
      new aws.cloudwatch.MetricAlarm(`${name}-${rule.id}-failed`, {
        alarmDescription: `S3 replication operations of ${rule.prefix} failed`,
        namespace: "AWS/S3",
        metricName: "OperationsFailedReplication",
        dimensions,
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [args.alarmTopicArn],
      }, parent);
    }
    this.registerOutputs({ bucketName: this.source.bucketName });
  }
}

/**
 * The DR side of media replication: a versioned, private, TLS-only bucket encrypted with its
 * own DR-region key, which the primary's replication rule writes into.
 */
export class MediaReplica extends pulumi.ComponentResource {
  readonly storage: SecureBucket;
  readonly kmsKey: aws.kms.Key;

  constructor(name: string, args: Record<string, never> = {}, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:MediaReplica", name, args, opts);
    this.kmsKey = customerKey(`${name}-key`, "Media replicas", { parent: this });
    this.storage = new SecureBucket(name, { kmsKeyArn: this.kmsKey.arn }, { parent: this });
    this.registerOutputs({ bucketName: this.storage.bucketName });
  }
}
