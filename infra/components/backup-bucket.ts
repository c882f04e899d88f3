import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_PREFIXES, ELASTICACHE_EXPORT_PREFIX, type BackupKind } from "../../contract/backup-prefixes.ts";
import { customerKey } from "./kms.ts";
import { SecureBucket } from "./secure-bucket.ts";

export interface BackupBucketArgs {
  /** Days each prefix keeps objects (current and noncurrent versions) before the lifecycle expires them. */
  retentionDays: Record<BackupKind, number>;
  /** Object Lock GOVERNANCE default retention in days; at most the shortest prefix retention. */
  objectLockDays: number;
  /** This bucket's region (for the ElastiCache export service principal). */
  region: string;
  accountId: pulumi.Input<string>;
}

/**
 * The logical-backup bucket: versioned, Object Lock (GOVERNANCE default retention), SSE-KMS with
 * its own customer key, private, TLS-only, and retention by age per prefix (S3 lifecycle, not by
 * counting files). ElastiCache may write its daily snapshot export under `redis/` and under the
 * top-level `redis-export-` name prefix (export names cannot contain "/"), both expired with the
 * Redis retention.
 */
export class BackupBucket extends pulumi.ComponentResource {
  readonly storage: SecureBucket;
  readonly kmsKey: aws.kms.Key;
  readonly bucketName: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Bucket", name, {}, opts);
    const parent = { parent: this };
    const elasticache = `${args.region}.elasticache-snapshot.amazonaws.com`;
    this.kmsKey = customerKey(`${name}-key`, "Logical backups (database, redis, infrastructure, code)", parent, {
      accountId: args.accountId,
      services: [elasticache],
    });
    this.storage = new SecureBucket(
      name,
      {
        kmsKeyArn: this.kmsKey.arn,
        objectLockDays: args.objectLockDays,
        expiry: [
          ...(Object.keys(BACKUP_PREFIXES) as BackupKind[]).map((kind) => ({
            prefix: BACKUP_PREFIXES[kind],
            days: args.retentionDays[kind],
          })),
          { prefix: ELASTICACHE_EXPORT_PREFIX, days: args.retentionDays.redis },
        ],
        extraStatements: (arn) => [
          {
            Sid: "ElastiCacheExportsRedisSnapshots",
            Effect: "Allow",
            Principal: { Service: elasticache },
            Action: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts"],
            Resource: [
              pulumi.interpolate`${arn}/${BACKUP_PREFIXES.redis}*`,
              pulumi.interpolate`${arn}/${ELASTICACHE_EXPORT_PREFIX}*`,
            ],
            Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
          },
          {
            Sid: "ElastiCacheChecksBucket",
            Effect: "Allow",
            Principal: { Service: elasticache },
            Action: ["s3:GetBucketAcl", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            Resource: [arn],
            Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
          },
        ],
      },
      parent,
    );
    this.bucketName = this.storage.bucketName;
    this.arn = this.storage.arn;
    this.registerOutputs({ bucketName: this.bucketName, arn: this.arn });
  }
}
