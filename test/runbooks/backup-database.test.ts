import test from "ava";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createDatabase } from "../../runbooks/local/postgres.ts";
import { backupDatabase, restoreDatabase, verifyDatabaseBackup } from "../../runbooks/postgres/logical.ts";
import { verifyBackup } from "../../runbooks/postgres/verify.ts";
import { downloadStream, BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { loadDatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { countRows } from "../../runbooks/local/eventchain-schema.ts";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { useMoto } from "../helpers/moto.ts";
import { canonicalDump, postgresFor, seededDatabase } from "../helpers/postgres.ts";

const moto = useMoto(test);
let bucketCount = 0;

async function bucketFor() {
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `backups-${process.pid}-${++bucketCount}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return { s3, bucket, prefix: "database/" };
}

async function readAll(s3: BackupS3Client, bucket: string, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(s3, bucket, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("a backup restored into a new database reproduces the data exactly", async (t) => {
  const server = await postgresFor(t);
  await seededDatabase(server, "eventchain", 0.2);
  const { s3, bucket, prefix } = await bucketFor();
  const manifest = await backupDatabase({
    conn: server.connection("eventchain"),
    binDir: server.binDir,
    s3,
    bucket,
    prefix,
  });
  const source = await server.client("eventchain");
  t.teardown(() => source.end());
  t.deepEqual(manifest.rowCounts, await countRows(source));
  t.regex(manifest.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  t.true(manifest.object.bytes > 0);
  t.true((await verifyDatabaseBackup(s3, bucket, manifest)).ok);
  t.deepEqual(await loadDatabaseManifest(s3, bucket, prefix, "latest"), manifest);

  await createDatabase(server, "restored");
  await restoreDatabase({
    s3,
    bucket,
    manifest,
    target: server.connection("restored"),
    binDir: server.binDir,
    jobs: 2,
  });
  t.is(await canonicalDump(server, "restored"), await canonicalDump(server, "eventchain"));
});

test("verify-backup passes a good backup and drops its scratch database", async (t) => {
  const server = await postgresFor(t);
  await seededDatabase(server, "eventchain", 0.1);
  const { s3, bucket, prefix } = await bucketFor();
  await backupDatabase({ conn: server.connection("eventchain"), binDir: server.binDir, s3, bucket, prefix });
  const report = await verifyBackup({
    s3,
    bucket,
    prefix,
    backupId: "latest",
    server: server.connection(),
    binDir: server.binDir,
  });
  t.true(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
  t.true(report.checks.some((c) => c.kind === "foreign-key"));
  t.is(report.checks.filter((c) => c.kind === "plan-check").length, 3);
  t.true(report.scratchDropped);
  const schema = JSON.parse(
    readFileSync(new URL("../../runbooks/postgres/verification-report.schema.json", import.meta.url), "utf8"),
  );
  const validate = new Ajv({ allErrors: true }).compile(schema);
  t.true(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors));
  const left = await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'");
  t.deepEqual(left, []);
});

for (const damage of ["corrupted", "truncated"] as const) {
  test(`verify-backup detects a ${damage} backup object`, async (t) => {
    const server = await postgresFor(t);
    await seededDatabase(server, "eventchain", 0.1);
    const { s3, bucket, prefix } = await bucketFor();
    const manifest = await backupDatabase({
      conn: server.connection("eventchain"),
      binDir: server.binDir,
      s3,
      bucket,
      prefix,
    });
    const original = await readAll(s3, bucket, manifest.object.key);
    const bad = Buffer.from(original);
    const damaged =
      damage === "corrupted" ? ((bad[Math.floor(bad.length / 2)] ^= 0xff), bad) : bad.subarray(0, bad.length - 100);
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: manifest.object.key, Body: damaged, ChecksumAlgorithm: "SHA256" }),
    );
    const report = await verifyBackup({
      s3,
      bucket,
      prefix,
      backupId: manifest.backupId,
      server: server.connection(),
      binDir: server.binDir,
    });
    t.false(report.ok);
    const object = report.checks.find((c) => c.kind === "object")!;
    t.false(object.ok);
    t.regex(object.detail, damage === "corrupted" ? /checksum|SHA-256/ : /size \d+ bytes, expected/);
  });
}

test("an orphan row injected into tickets is reported by verify-backup", async (t) => {
  const server = await postgresFor(t);
  await seededDatabase(server, "eventchain", 0.1);
  const c = await server.client("eventchain");
  t.teardown(() => c.end());
  // Bypass the foreign key the way a bad migration or a disabled trigger would.
  await c.query("SET session_replication_role = replica");
  await c.query(
    "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (987654321, NULL, 'Z-1', 10, 'available', 'orphan')",
  );
  await c.query("SET session_replication_role = origin");
  const { s3, bucket, prefix } = await bucketFor();
  await backupDatabase({ conn: server.connection("eventchain"), binDir: server.binDir, s3, bucket, prefix });
  const report = await verifyBackup({
    s3,
    bucket,
    prefix,
    backupId: "latest",
    server: server.connection(),
    binDir: server.binDir,
  });
  t.false(report.ok);
  const planCheck = report.checks.find((ch) => ch.name === "tickets.event_id → events.id")!;
  t.false(planCheck.ok);
  t.is(planCheck.detail, "1 orphan row(s)");
  // The other plan checks still pass: the report names the one broken relation.
  t.true(report.checks.filter((ch) => ch.kind === "plan-check" && ch !== planCheck).every((ch) => ch.ok));
  t.true(report.scratchDropped);
});
