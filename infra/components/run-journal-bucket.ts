import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { RUN_JOURNAL_NONCURRENT, RUN_JOURNAL_PREFIX } from "../../contract/backup-prefixes.ts";
import { customerKey } from "./kms.ts";
import { SecureBucket } from "./secure-bucket.ts";

export interface RunJournalBucketArgs {
  /**
   * Days a replaced (noncurrent) version of a journal, lock or report is kept before the
   * lifecycle expires it. Default: 7 (a week to look back at how a run's journal changed).
   */
  noncurrentDays?: pulumi.Input<number>;
  /**
   * Newest noncurrent versions of each key kept whatever their age (S3's
   * `NewerNoncurrentVersions`). Default: 3.
   */
  keepNewerNoncurrent?: pulumi.Input<number>;
}

/** Defaults of `RunJournalBucketArgs` (contract/backup-prefixes.ts: the stand-in bucket of the tests keeps the same). */
export const RUN_JOURNAL_DEFAULTS = {
  noncurrentDays: RUN_JOURNAL_NONCURRENT.days,
  keepNewerNoncurrent: RUN_JOURNAL_NONCURRENT.keepNewer,
} as const;

/**
 * Where the incident runbooks keep their run lock and shared journals (`runs/`), in the DR region:
 * private, versioned, SSE-KMS with its own key, TLS-only, and WITHOUT Object Lock, so that the
 * versions every journal write and lock heartbeat leaves behind expire (a lifecycle rule on
 * noncurrent versions) instead of piling up under a retention nobody can shorten, and a stuck
 * lock can be replaced without a governance bypass. The current version of each object (the
 * last journal, lock state and report of every run) is kept: it is the record of the incident.
 * Conditional writes (`If-None-Match`, `If-Match`) work the same as in the backup bucket.
 */
export class RunJournalBucket extends pulumi.ComponentResource {
  readonly kmsKey: aws.kms.Key;
  readonly storage: SecureBucket;
  readonly lifecycle: aws.s3.BucketLifecycleConfiguration;
  readonly bucketName: pulumi.Output<string>;
  readonly prefix = RUN_JOURNAL_PREFIX;

  constructor(name: string, args: RunJournalBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:RunJournalBucket", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, "Runbook run journals and run locks (DR region)", parent);
    this.storage = new SecureBucket(name, { kmsKeyArn: this.kmsKey.arn }, parent);
    this.bucketName = this.storage.bucketName;
    this.lifecycle = new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: this.storage.bucket.id,
        rules: [
          {
            id: "expire-replaced-journal-and-lock-versions",
            status: "Enabled",
            filter: { prefix: RUN_JOURNAL_PREFIX },
            noncurrentVersionExpiration: {
              noncurrentDays: args.noncurrentDays ?? RUN_JOURNAL_DEFAULTS.noncurrentDays,
              newerNoncurrentVersions: args.keepNewerNoncurrent ?? RUN_JOURNAL_DEFAULTS.keepNewerNoncurrent,
            },
            // Delete markers left alone once their versions expired are removed too.
            expiration: { expiredObjectDeleteMarker: true },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
      { ...parent, dependsOn: [this.storage.versioning] },
    );
    this.registerOutputs({ bucketName: this.bucketName, prefix: this.prefix });
  }
}
