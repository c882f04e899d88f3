/**
 * Under Pulumi mocks: the run journal and lock live in a DR-region bucket of their own, without
 * Object Lock, versioned, whose lifecycle expires replaced versions under `runs/` — not in the
 * locked backup bucket, where every journal write and lock heartbeat stayed for the retention.
 */
import test from "ava";
import { RUN_JOURNAL_PREFIX } from "../../contract/backup-prefixes.ts";
import { RUN_JOURNAL_DEFAULTS } from "../../infra/components/run-journal-bucket.ts";
import { committedStacks, ofType } from "../helpers/pulumi-mocks.ts";

test("both stacks name the DR region's journal bucket, not the locked backup bucket", async (t) => {
  const { prod, dr } = await committedStacks();
  t.like(dr.outputs.runJournal, { region: "us-west-2", prefix: RUN_JOURNAL_PREFIX });
  t.not(dr.outputs.runJournal.bucketName, dr.outputs.backup.bucketName);
  t.deepEqual(prod.outputs.runJournal, dr.outputs.runJournal);
});

test("the journal bucket has no Object Lock, is versioned and encrypted, and expires replaced versions", async (t) => {
  const { dr } = await committedStacks();
  const name = dr.outputs.runJournal.bucketName;
  const bucket = ofType(dr, "aws:s3/bucket:Bucket").find((b) => b.id === name);
  t.truthy(bucket, `bucket ${name} declared`);
  t.false(bucket!.inputs.objectLockEnabled, "no Object Lock: versions can expire, a stuck lock can be replaced");
  t.is(bucket!.region, "us-west-2");
  const forBucket = (type: string) => ofType(dr, type).filter((r) => r.inputs.bucket === name);
  t.is(forBucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").length, 0);
  t.is(forBucket("aws:s3/bucketVersioning:BucketVersioning")[0]?.inputs.versioningConfiguration.status, "Enabled");
  t.is(
    forBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]?.inputs
      .rules[0].applyServerSideEncryptionByDefault.sseAlgorithm,
    "aws:kms",
  );
  const rules = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]?.inputs.rules;
  t.deepEqual(rules, [
    {
      id: "expire-replaced-journal-and-lock-versions",
      status: "Enabled",
      filter: { prefix: RUN_JOURNAL_PREFIX },
      noncurrentVersionExpiration: {
        noncurrentDays: RUN_JOURNAL_DEFAULTS.noncurrentDays,
        newerNoncurrentVersions: RUN_JOURNAL_DEFAULTS.keepNewerNoncurrent,
      },
      expiration: { expiredObjectDeleteMarker: true },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
    },
  ]);
  t.falsy(rules[0].expiration.days, "the current journal, lock and report of every run are kept");
});
