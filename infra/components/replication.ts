import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson, serviceTrust } from "./iam.ts";

/** One replication rule. */
export interface ReplicationRuleArgs {
  id: string;
  /** Key prefix to replicate ("" for the whole bucket). */
  prefix: string;
  /** Storage class of the replicas, e.g. STANDARD_IA. */
  storageClass: string;
  /** Replication Time Control threshold in minutes (S3 supports 15); null turns RTC off. */
  rtcMinutes: number | null;
  /** Replication metrics event threshold in minutes (S3 supports 15). */
  metricsMinutes: number;
  /** Replicate delete markers. */
  deleteMarkers: boolean;
}

export interface BucketReplicationArgs {
  /** Source bucket: name (id), ARN and its KMS key; versioning must be on (pass it in dependsOn). */
  sourceBucket: pulumi.Input<string>;
  sourceArn: pulumi.Input<string>;
  sourceKmsKeyArn: pulumi.Input<string>;
  /** Whether the source has Object Lock (the role then also reads retention and legal holds). */
  objectLock?: boolean;
  /** Versioned destination bucket in the other region and its KMS key there. */
  destinationBucketName: pulumi.Input<string>;
  destinationKmsKeyArn: pulumi.Input<string>;
  rules: ReplicationRuleArgs[];
  accountId: pulumi.Input<string>;
  /** SNS topic (source region) for the lag and failure alarms. */
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * Cross-region replication of a bucket's prefixes: a role that may read only the replicated
 * prefixes and write only replicas (and use only the two keys), the replication rules (SSE-KMS
 * objects re-encrypted with the destination key, RTC and metrics), and alarms on replication
 * lag beyond the RTC threshold and on failed operations (failures only, never successes).
 */
export class BucketReplication extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly replication: aws.s3.BucketReplicationConfig;

  // Long on purpose: it declares the component's resources in order, one block each, all with { parent: this }.
  constructor(name: string, args: BucketReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:BucketReplication", name, {}, opts);
    const parent = { parent: this };
    const src = args.sourceArn;
    const dst = pulumi.interpolate`arn:aws:s3:::${args.destinationBucketName}`;
    this.role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: serviceTrust("s3.amazonaws.com", args.accountId) },
      parent,
    );
    const readActions = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"];
    if (args.objectLock) readActions.push("s3:GetObjectRetention", "s3:GetObjectLegalHold");
    new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: this.role.id,
        policy: policyJson([
          {
            Sid: "ReadReplicationConfig",
            Effect: "Allow",
            Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            Resource: [src],
          },
          {
            Sid: "ReadSourceVersions",
            Effect: "Allow",
            Action: readActions,
            Resource: args.rules.map((r) => pulumi.interpolate`${src}/${r.prefix}*`),
          },
          {
            Sid: "WriteReplicas",
            Effect: "Allow",
            Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            Resource: args.rules.map((r) => pulumi.interpolate`${dst}/${r.prefix}*`),
          },
          { Sid: "DecryptSource", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [args.sourceKmsKeyArn] },
          {
            Sid: "EncryptReplicas",
            Effect: "Allow",
            Action: ["kms:Encrypt", "kms:GenerateDataKey"],
            Resource: [args.destinationKmsKeyArn],
          },
        ]),
      },
      parent,
    );
    this.replication = new aws.s3.BucketReplicationConfig(
      `${name}-replication`,
      {
        bucket: args.sourceBucket,
        role: this.role.arn,
        rules: args.rules.map((rule, index) => ({
          id: rule.id,
          status: "Enabled",
          priority: index + 1,
          filter: { prefix: rule.prefix },
          deleteMarkerReplication: { status: rule.deleteMarkers ? "Enabled" : "Disabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: dst,
            storageClass: rule.storageClass,
            encryptionConfiguration: { replicaKmsKeyId: args.destinationKmsKeyArn },
            ...(rule.rtcMinutes === null
              ? {}
              : { replicationTime: { status: "Enabled", time: { minutes: rule.rtcMinutes } } }),
            metrics: { status: "Enabled", eventThreshold: { minutes: rule.metricsMinutes } },
          },
        })),
      },
      parent,
    );
    for (const rule of args.rules) {
      const dimensions = {
        SourceBucket: args.sourceBucket,
        DestinationBucket: args.destinationBucketName,
        RuleId: rule.id,
      };
      const alarm = (suffix: string, description: string, metricName: string, statistic: string, threshold: number) =>
        new aws.cloudwatch.MetricAlarm(
          `${name}-${rule.id}-${suffix}`,
          {
            alarmDescription: description,
            namespace: "AWS/S3",
            metricName,
            dimensions,
            statistic,
            period: 300,
            evaluationPeriods: 1,
            threshold,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
            alarmActions: [args.alarmTopicArn],
          },
          parent,
        );
      const minutes = rule.rtcMinutes ?? 15;
      alarm(
        "latency",
        `S3 replication of ${rule.prefix || "the bucket"} is more than ${minutes} minutes behind`,
        "ReplicationLatency",
        "Maximum",
        minutes * 60,
      );
      alarm(
        "failed",
        `S3 replication operations of ${rule.prefix || "the bucket"} failed`,
        "OperationsFailedReplication",
        "Sum",
        0,
      );
    }
    this.registerOutputs({ roleArn: this.role.arn });
  }
}
