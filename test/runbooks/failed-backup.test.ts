/**
 * A backup that fails leaves nothing under its prefix, and says what it removed: one whose
 * pg_dump fails after more than a part (8 MiB) has streamed (its multipart upload is aborted),
 * and one that fails after its dump was stored (the dump is deleted: an object without a
 * manifest can be neither verified nor restored). As on RDS, the backup runs as the master role.
 */
import test from "ava";
import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createDatabase, masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { backupDatabase } from "../../runbooks/postgres/logical.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);
let shared: LocalPostgres | undefined;
const server = () => masterOf(shared!);
test.before(async () => {
  shared = await startPostgres();
  await createDatabase(server(), "big");
  // 12 MiB that does not compress (hex of digests), then a large object the master may not read:
  // pg_dump writes every table's rows before the large objects, so it fails well into the stream.
  await server().query(
    "CREATE TABLE noise AS SELECT g AS id, decode(md5(g::text) || md5((g * 7)::text), 'hex') AS b FROM generate_series(1, 400000) g",
    [],
    "big",
  );
  await shared.query("SELECT lo_from_bytea(0, 'the host''s secret')", [], "big");
});
test.after.always(() => shared?.destroy());

let n = 0;
async function bucket() {
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const name = `failed-${process.pid}-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return { s3, bucket: name, prefix: "database/" };
}

async function leftovers(b: Awaited<ReturnType<typeof bucket>>) {
  const objects = (await b.s3.send(new ListObjectsV2Command({ Bucket: b.bucket }))).Contents ?? [];
  const uploads = (await b.s3.send(new ListMultipartUploadsCommand({ Bucket: b.bucket }))).Uploads ?? [];
  return { objects: objects.map((o) => o.Key), uploads: uploads.map((u) => u.Key) };
}

test.serial("a pg_dump that fails mid-stream leaves no object and no open upload, and says so", async (t) => {
  const b = await bucket();
  const error = await t.throwsAsync(
    backupDatabase({ conn: server().connection("big"), binDir: server().binDir, ...b, backupId: "20300101T000000Z" }),
  );
  t.regex(error!.message, /^backup 20300101T000000Z of big failed: /);
  t.regex(error!.message, /permission denied for large object/);
  t.regex(error!.message, /(removed |nothing is left under s3:\/\/failed-\d+-\d+\/database\/20300101T000000Z\/)/);
  t.deepEqual(await leftovers(b), { objects: [], uploads: [] });
});

test.serial("a backup that fails after its dump was stored deletes the dump and names it", async (t) => {
  const b = await bucket();
  // The same tools, but a pg_dumpall that fails: the roles step comes after the dump is stored.
  const bin = await mkdtemp(join(tmpdir(), "failing-bin-"));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  for (const tool of ["pg_dump", "pg_restore"]) await symlink(join(server().binDir, tool), join(bin, tool));
  await writeFile(join(bin, "pg_dumpall"), "#!/bin/sh\necho 'pg_dumpall: error: injected for the test' >&2\nexit 1\n");
  await chmod(join(bin, "pg_dumpall"), 0o755);
  await server().query("CREATE DATABASE small");
  const error = await t.throwsAsync(
    backupDatabase({ conn: server().connection("small"), binDir: bin, ...b, backupId: "20300101T000001Z" }),
  );
  t.regex(error!.message, /injected for the test/);
  t.regex(error!.message, /removed deleted s3:\/\/failed-\d+-\d+\/database\/20300101T000001Z\/small\.dump/);
  t.deepEqual(await leftovers(b), { objects: [], uploads: [] });
});
