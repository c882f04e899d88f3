import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransport, policyJson, type Statement } from "./iam.ts";

/** One lifecycle rule: objects under `prefix` expire `days` after creation. */
export interface ExpiryRule {
  prefix: string;
  days: number;
}

export interface SecureBucketArgs {
  /** The bucket's name. Default: generated from the logical name. */
  bucketName?: pulumi.Input<string>;
  /** Customer-managed KMS key for SSE-KMS (with S3 Bucket Keys). Required. */
  kmsKeyArn: pulumi.Input<string>;
  /** Enable Object Lock with a GOVERNANCE default retention of this many days. Default: no Object Lock. */
  objectLockDays?: number;
  /** Expire current and noncurrent versions by age, per prefix. Default: none. */
  expiry?: ExpiryRule[];
  /** Extra bucket-policy statements (the TLS-only denial is always present). Default: none. */
  extraStatements?: (bucketArn: pulumi.Output<string>) => Statement[];
}

/**
 * A private, versioned, SSE-KMS bucket that refuses plain HTTP: the base of the backup bucket,
 * the media bucket and its DR replica. Block Public Access on all four settings, bucket owner
 * enforced (no ACLs), a policy that denies any request with `aws:SecureTransport=false`.
 */
export class SecureBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** Resolves once versioning is on (replication needs it first). */
  readonly versioning: aws.s3.BucketVersioning;

  constructor(name: string, args: SecureBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:storage:SecureBucket", name, {}, opts);
    const parent = { parent: this };
    const locked = args.objectLockDays !== undefined;
    this.bucket = new aws.s3.Bucket(
      name,
      { ...(args.bucketName ? { bucket: args.bucketName } : {}), objectLockEnabled: locked, forceDestroy: false },
      { ...parent, protect: true },
    );
    this.bucketName = this.bucket.bucket;
    this.arn = this.bucket.arn;
    this.versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      {
        bucket: this.bucket.id,
        versioningConfiguration: { status: "Enabled" },
      },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-sse`,
      {
        bucket: this.bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: this.bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      {
        bucket: this.bucket.id,
        rule: { objectOwnership: "BucketOwnerEnforced" },
      },
      parent,
    );
    const policy = policyJson([
      denyInsecureTransport(this.bucket.arn),
      ...(args.extraStatements?.(this.bucket.arn) ?? []),
    ]);
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      { bucket: this.bucket.id, policy },
      { ...parent, dependsOn: [publicAccess] },
    );
    if (locked) {
      new aws.s3.BucketObjectLockConfiguration(
        `${name}-object-lock`,
        {
          bucket: this.bucket.id,
          rule: { defaultRetention: { mode: "GOVERNANCE", days: args.objectLockDays } },
        },
        { ...parent, dependsOn: [this.versioning] },
      );
    }
    if (args.expiry?.length) {
      new aws.s3.BucketLifecycleConfiguration(
        `${name}-lifecycle`,
        {
          bucket: this.bucket.id,
          rules: args.expiry.map((rule) => ({
            id: `expire-${rule.prefix.replace(/\/$/, "") || "all"}-after-${rule.days}-days`,
            status: "Enabled",
            filter: { prefix: rule.prefix },
            expiration: { days: rule.days },
            noncurrentVersionExpiration: { noncurrentDays: rule.days },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 2 },
          })),
        },
        { ...parent, dependsOn: [this.versioning] },
      );
    }
    this.registerOutputs({ bucketName: this.bucketName, arn: this.arn });
  }
}
