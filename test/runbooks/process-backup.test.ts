/**
 * The one helper for a backup that is a process's output (runbooks/aws/process-backup.ts), against
 * moto's S3: the output, through a transform, becomes one object whose manifest's checksums match
 * its bytes; a process that fails is named with the tail of its stderr and leaves no manifest.
 */
import test from "ava";
import { createHash } from "node:crypto";
import { gunzipSync, createGzip } from "node:zlib";
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { backupProcessOutput, type ProcessBackup } from "../../runbooks/aws/process-backup.ts";
import { BackupS3Client, downloadStream } from "../../runbooks/aws/s3-object.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);
const BUCKET = "process-backup-test";
let client: BackupS3Client | undefined;
/** The bucket's client, made on first use (moto starts in a before hook of its own). */
async function bucket(): Promise<BackupS3Client> {
  if (client) return client;
  client = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return client;
}

const base = async (backupId: string): Promise<Omit<ProcessBackup, "command" | "args" | "label">> => ({
  s3: await bucket(),
  bucket: BUCKET,
  prefix: "code/",
  backupId,
  startedAt: new Date().toISOString(),
  kind: "code",
  name: "out.gz",
  contentType: "application/gzip",
  facts: { what: "a test" },
});

const bytesOf = async (key: string) => {
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(await bucket(), BUCKET, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

test.serial("the output, gzipped on the way, is one object whose manifest's checksum is its bytes'", async (t) => {
  const manifest = await backupProcessOutput({
    ...(await base("20260101T000000Z")),
    command: "sh",
    args: ["-c", "printf 'hello backup'"],
    label: "printf",
    through: createGzip(),
  });
  t.like(manifest, { kind: "code", backupId: "20260101T000000Z", facts: { what: "a test" } });
  const [object] = manifest.objects;
  t.is(object!.key, "code/20260101T000000Z/out.gz");
  const stored = await bytesOf(object!.key);
  t.is(gunzipSync(stored).toString(), "hello backup");
  t.is(object!.bytes, stored.length);
  t.is(object!.sha256, createHash("sha256").update(stored).digest("hex"));
  t.deepEqual(JSON.parse((await bytesOf("code/20260101T000000Z/manifest.json")).toString()), manifest);
});

test.serial("a process that fails is named with its stderr, and no manifest is written", async (t) => {
  await t.throwsAsync(
    backupProcessOutput({
      ...(await base("20260101T000001Z")),
      command: "sh",
      args: ["-c", "echo partial; echo 'fatal: not a git repository' >&2; exit 128"],
      label: "git bundle create",
    }),
    { message: "git bundle create exited 128: fatal: not a git repository" },
  );
  const listed = await (
    await bucket()
  ).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "code/20260101T000001Z/" }));
  t.false((listed.Contents ?? []).some((o) => o.Key!.endsWith("manifest.json")));
});
