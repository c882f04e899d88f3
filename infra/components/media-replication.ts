import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { customerKey } from "./kms.ts";
import { BucketReplication, type ReplicationRuleArgs } from "./replication.ts";
import { SecureBucket } from "./secure-bucket.ts";

/** One replication rule as the plan states it. */
export type MediaReplicationRule = ReplicationRuleArgs;

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
  /** Absent when there are no rules. */
  readonly replication?: BucketReplication;

  constructor(name: string, args: MediaReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:MediaReplication", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, "Media assets", parent);
    this.source = new SecureBucket(`${name}-source`, { kmsKeyArn: this.kmsKey.arn }, parent);
    // No rules: nothing replicates (the config check reports the objective this misses).
    if (args.rules.length > 0) {
      this.replication = new BucketReplication(
        name,
        {
          sourceBucket: this.source.bucketName,
          sourceArn: this.source.arn,
          sourceKmsKeyArn: this.kmsKey.arn,
          destinationBucketName: args.destinationBucketName,
          destinationKmsKeyArn: args.destinationKmsKeyArn,
          rules: args.rules,
          accountId: args.accountId,
          alarmTopicArn: args.alarmTopicArn,
        },
        { ...parent, dependsOn: [this.source.versioning] },
      );
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
