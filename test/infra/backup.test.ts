import test from "ava";
import { committedStacks, evaluateWith, ofType, only } from "../helpers/pulumi-mocks.ts";

test("the backup plan runs the plan's schedules, keeps 30 days and copies to the DR vault", async (t) => {
  const { prod, dr } = await committedStacks();
  const plan = only(prod, "aws:backup/plan:Plan").inputs;
  const rules = Object.fromEntries(plan.rules.map((r: any) => [r.ruleName, r]));
  t.is(rules["database-snapshots"].schedule, "cron(0 */6 * * ? *)");
  t.is(rules["daily-full"].schedule, "cron(0 2 * * ? *)");
  for (const rule of plan.rules) {
    t.is(rule.targetVaultName, "eventchain-us-east-1");
    t.is(rule.scheduleExpressionTimezone, "Etc/UTC");
    t.deepEqual(rule.lifecycle, { deleteAfter: 30 });
    t.deepEqual(rule.copyActions, [
      { destinationVaultArn: dr.outputs.backup.vaultArn, lifecycle: { deleteAfter: 30 } },
    ]);
  }
  t.regex(dr.outputs.backup.vaultArn, /^arn:aws:backup:us-west-2:/);
});

test("the backup plan selects the primary database", async (t) => {
  const { prod } = await committedStacks();
  const selection = only(prod, "aws:backup/selection:Selection").inputs;
  t.deepEqual(selection.resources, [prod.outputs.database.instanceArn]);
});

test("copies can be turned off, and then nothing is copied", async (t) => {
  const evaluation = await evaluateWith("prod", { "eventchain-dr:backup": { copyToPeer: false } });
  for (const rule of only(evaluation, "aws:backup/plan:Plan").inputs.rules) t.deepEqual(rule.copyActions ?? [], []);
});

test("both vaults are locked, encrypted with their own keys, and governance mode by default", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const vault = only(evaluation, "aws:backup/vault:Vault").inputs;
    t.regex(vault.kmsKeyArn, new RegExp(`^arn:aws:kms:${evaluation.config.region}:`));
    t.false(vault.forceDestroy);
    const lock = only(evaluation, "aws:backup/vaultLockConfiguration:VaultLockConfiguration").inputs;
    t.is(lock.minRetentionDays, 7);
    t.is(lock.maxRetentionDays, 35);
    t.is(lock.changeableForDays, undefined, "governance mode has no grace period");
  }
});

test.serial("compliance mode sets the grace period and warns loudly that the lock becomes irreversible", async (t) => {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
  t.teardown(() => {
    console.warn = original;
  });
  const evaluation = await evaluateWith("dr", {
    "eventchain-dr:backup": { vaultLock: { mode: "compliance", changeableForDays: 7 } },
  });
  t.is(only(evaluation, "aws:backup/vaultLockConfiguration:VaultLockConfiguration").inputs.changeableForDays, 7);
  const warning = warnings.find((w) => w.includes("Vault Lock on eventchain-us-west-2"));
  t.regex(warning ?? "", /COMPLIANCE mode: 7 days after it is applied it becomes IRREVERSIBLE/);
});

test.serial("governance mode declares no irreversible lock and says nothing", async (t) => {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
  t.teardown(() => {
    console.warn = original;
  });
  await evaluateWith("dr", { "eventchain-dr:backup": { vaultLock: { mode: "governance" } } });
  t.false(warnings.some((w) => w.includes("IRREVERSIBLE")));
});

// Restore testing runs in the DR region over the DR vault: test/infra/restore-testing.test.ts.

test("Object Lock keeps every backup locked for at least as long as its prefix keeps it", async (t) => {
  const { prod } = await committedStacks();
  const lock = ofType(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").find(
    (r) => r.inputs.bucket === prod.outputs.backup.bucketName,
  )!.inputs.rule.defaultRetention.days;
  const retention = prod.outputs.backup.retentionDays;
  t.is(lock, Math.max(...Object.values(retention)));
  for (const [prefix, days] of Object.entries(retention)) t.true(lock >= days, `${prefix} keeps ${days} days`);
  const changed = await evaluateWith("prod", {
    "eventchain-dr:backup": { bucketRetentionDays: { database: 45, redis: 7, infrastructure: 30, code: 30 } },
  });
  t.is(
    ofType(changed, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").find(
      (r) => r.inputs.bucket === changed.outputs.backup.bucketName,
    )!.inputs.rule.defaultRetention.days,
    45,
    "the lock follows the longest retention",
  );
});

test("the backup bucket is versioned, object-locked, KMS-encrypted and private", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const bucket = only(evaluation, "aws:s3/bucket:Bucket", /^backups$/).inputs;
    t.true(bucket.objectLockEnabled);
    t.false(bucket.forceDestroy);
    const byBucket = (type: string) =>
      ofType(evaluation, type).find((r) => r.inputs.bucket === evaluation.outputs.backup.bucketName)?.inputs;
    t.is(byBucket("aws:s3/bucketVersioning:BucketVersioning")?.versioningConfiguration.status, "Enabled");
    t.deepEqual(byBucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")?.rule, {
      defaultRetention: { mode: "GOVERNANCE", days: 90 },
    });
    const sse = byBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
      ?.rules[0];
    t.is(sse.applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
    t.is(sse.applyServerSideEncryptionByDefault.kmsMasterKeyId, evaluation.outputs.backup.kmsKeyArn);
    const pab = byBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    t.like(pab, {
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
  }
});

test("every bucket refuses requests that are not over TLS", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const buckets = ofType(evaluation, "aws:s3/bucket:Bucket");
    const policies = ofType(evaluation, "aws:s3/bucketPolicy:BucketPolicy");
    t.is(policies.length, buckets.length);
    for (const policy of policies) {
      const deny = JSON.parse(policy.inputs.policy).Statement.find((s: any) => s.Sid === "DenyInsecureTransport");
      t.is(deny?.Effect, "Deny");
      t.deepEqual(deny?.Condition, { Bool: { "aws:SecureTransport": "false" } });
      t.deepEqual(deny?.Resource, [`arn:aws:s3:::${policy.inputs.bucket}`, `arn:aws:s3:::${policy.inputs.bucket}/*`]);
    }
  }
});

test("backups expire by age per prefix", async (t) => {
  const { prod } = await committedStacks();
  const lifecycle = ofType(prod, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").find(
    (r) => r.inputs.bucket === prod.outputs.backup.bucketName,
  )?.inputs;
  const days = Object.fromEntries(
    lifecycle?.rules.map((r: any) => [
      r.filter.prefix,
      [r.expiration.days, r.noncurrentVersionExpiration.noncurrentDays],
    ]) ?? [],
  );
  t.deepEqual(days, {
    "database/": [30, 30],
    "redis/": [7, 7],
    "redis-export-": [7, 7],
    "infrastructure/": [90, 90],
    "code/": [90, 90],
  });
  t.deepEqual(prod.outputs.backup.retentionDays, { database: 30, redis: 7, infrastructure: 90, code: 90 });
});
