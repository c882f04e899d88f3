/**
 * Every logical restore path proves the dump before it writes, and a failure leaves its target
 * exactly as it was: a corrupted, a truncated and a wrong-checksum dump handed to the restore
 * a user runs (`restoreDatabase`: into a new database, renamed only once complete) and to
 * verify-backup (library and runbook: exit 1), and a restore that fails half-way. As on RDS,
 * everything runs as the server's master role.
 */
import test from "ava";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { BackupS3Client, downloadStream, putJson } from "../../runbooks/aws/s3-object.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { backupDatabase, restoreDatabase } from "../../runbooks/postgres/logical.ts";
import { manifestKey, type DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { verifyBackup } from "../../runbooks/postgres/verify.ts";
import { runbook as verifyBackupRunbook } from "../../runbooks/verify-backup.ts";
import { buildForeignDatabaseAsMaster } from "../helpers/foreign-database.ts";
import { useMoto } from "../helpers/moto.ts";
import { canonicalDump, seededDatabase } from "../helpers/postgres.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);
let shared: LocalPostgres | undefined;
const server = () => masterOf(shared!);
test.before(async () => {
  shared = await startPostgres();
  await seededDatabase(server(), "eventchain", 0.05);
  await buildForeignDatabaseAsMaster(shared, "foreign_db");
  // verify-backup --connection env reads libpq's variables: the master role's (this process only).
  Object.assign(process.env, server().env());
});
test.after.always(() => shared?.destroy());

let n = 0;
async function backedUp(database = "eventchain") {
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `restore-paths-${process.pid}-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const b = { s3, bucket, prefix: "database/" };
  const manifest = await backupDatabase({ conn: server().connection(database), binDir: server().binDir, ...b });
  return { ...b, manifest };
}

async function readAll(s3: BackupS3Client, bucket: string, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(s3, bucket, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Damages the backup as `damage` says: its dump's bytes, or the manifest's checksum of them. */
async function damageBackup(b: Awaited<ReturnType<typeof backedUp>>, damage: string): Promise<void> {
  const { s3, bucket, manifest } = b;
  if (damage === "wrong-checksum") {
    const wrong: DatabaseManifest = { ...manifest, object: { ...manifest.object, sha256: "0".repeat(64) } };
    await putJson(s3, bucket, manifestKey(b.prefix, manifest.backupId), wrong);
    return;
  }
  const bytes = Buffer.from(await readAll(s3, bucket, manifest.object.key));
  const body =
    damage === "corrupted" ? ((bytes[bytes.length >> 1] ^= 0xff), bytes) : bytes.subarray(0, bytes.length - 100);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: manifest.object.key, Body: body, ChecksumAlgorithm: "SHA256" }),
  );
}

const databases = async () =>
  (await server().query<{ datname: string }>("SELECT datname FROM pg_database ORDER BY 1")).map((r) => r.datname);
const roles = async () =>
  (await server().query<{ rolname: string }>("SELECT rolname FROM pg_roles ORDER BY 1")).map((r) => r.rolname);

for (const damage of ["corrupted", "truncated", "wrong-checksum"] as const) {
  test.serial(
    `a ${damage} dump is refused by every restore path, naming the object, and the target is unchanged`,
    async (t) => {
      const b = await backedUp();
      await damageBackup(b, damage);
      const manifest =
        damage === "wrong-checksum"
          ? { ...b.manifest, object: { ...b.manifest.object, sha256: "0".repeat(64) } }
          : b.manifest;
      const where = `s3://${b.bucket}/${b.manifest.object.key}`;
      // The target exists and holds something of its own.
      const target = `target_${damage.replace("-", "_")}`;
      await server().query(`CREATE DATABASE ${target} TEMPLATE eventchain`);
      await server().query("DELETE FROM payments WHERE id % 3 = 0", [], target);
      const before = {
        content: await canonicalDump(server(), target),
        databases: await databases(),
        roles: await roles(),
      };

      const error = await t.throwsAsync(
        restoreDatabase({ ...b, manifest, target: server().connection(target), binDir: server().binDir }),
      );
      t.true(error!.message.includes(where), error!.message);
      t.regex(
        error!.message,
        damage === "truncated" ? /bytes, the manifest says/ : /SHA-256 [0-9a-f]{64}, the manifest says/,
      );
      t.regex(error!.message, /not restoring from it \(nothing was changed\)/);
      t.is(await canonicalDump(server(), target), before.content, "the target is exactly as it was");
      t.deepEqual(await databases(), before.databases, "no new database left behind");
      t.deepEqual(await roles(), before.roles);

      const report = await verifyBackup({
        ...b,
        backupId: b.manifest.backupId,
        server: server().connection(),
        binDir: server().binDir,
      });
      t.false(report.ok);
      const object = report.checks.find((c) => c.kind === "object")!;
      t.false(object.ok);
      t.is(object.name, `object ${where}`);
      t.regex(
        object.detail,
        damage === "wrong-checksum" ? /SHA-256 0{64}|the manifest says/ : /checksum|SHA-256|bytes/,
      );
      t.deepEqual(await databases(), before.databases, "verify-backup created no scratch database");

      // The runbook a user runs exits 1, naming the object.
      const ws = workspace(t);
      const file = ws.writeOutputs(
        localOutputs({ instanceIdentifier: "t", dbName: "eventchain", port: shared!.port, bucketName: b.bucket }),
      );
      const run = await runRunbook(
        verifyBackupRunbook,
        [
          ...["--outputs", file, "--state-dir", ws.stateDir, "--connection", "env", "--backup", b.manifest.backupId],
          ...["--report-dir", join(ws.dir, "verifications")],
        ],
        { aws: { endpoint: moto().endpoint, maxAttempts: 1 } },
      );
      t.is(run.exitCode, 1, run.message);
      t.true(run.message.includes(`object s3://${b.bucket}/${b.manifest.object.key}`), run.message);
    },
  );
}

test.serial(
  "a restore that fails half-way leaves the target as it was and names the database and roles it dropped",
  async (t) => {
    const b = await backedUp("foreign_db");
    // A restoring user without CREATEROLE, on a server that lacks the backup's roles: roles are needed (owners kept).
    await shared!.query("CREATE ROLE plain_restorer LOGIN CREATEDB PASSWORD 'plain-restorer-password'");
    t.teardown(() => shared!.query("DROP ROLE IF EXISTS plain_restorer"));
    await shared!.query("CREATE DATABASE plain_target OWNER plain_restorer");
    t.teardown(() => shared!.query("DROP DATABASE IF EXISTS plain_target WITH (FORCE)"));
    const conn = {
      ...server().connection("plain_target"),
      user: "plain_restorer",
      password: "plain-restorer-password",
    };
    // It is no member of fx_owner and cannot make itself one: the objects cannot get their owners.
    const before = await databases();
    const error = await t.throwsAsync(
      restoreDatabase({ ...b, target: conn, binDir: server().binDir, privileges: true, ownership: true }),
    );
    t.log(error!.message);
    t.regex(error!.message, /must be (a )?member of role "fx_owner"|must be able to SET ROLE "fx_owner"/);
    t.regex(error!.message, /plain_target is unchanged; dropped database plain_target_restoring_[0-9a-f]{8}/);
    t.deepEqual(await databases(), before);
    t.deepEqual(
      await server().query(
        "SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
        [],
        "plain_target",
      ),
      [{ n: 0 }],
    );
  },
);

test.serial(
  "a restore over an existing database renames it aside (kept) and puts the backup in its place",
  async (t) => {
    const b = await backedUp();
    await server().query("CREATE DATABASE replace_me TEMPLATE eventchain");
    await server().query("DELETE FROM payments", [], "replace_me");
    const r = await restoreDatabase({
      ...b,
      target: server().connection("replace_me"),
      binDir: server().binDir,
      jobs: 1,
    });
    t.is(r.replaced, `replace_me_replaced_${b.manifest.backupId.toLowerCase()}`);
    t.is(await canonicalDump(server(), "replace_me"), await canonicalDump(server(), "eventchain"));
    t.deepEqual(
      await server().query("SELECT count(*)::int AS n FROM payments", [], r.replaced!),
      [{ n: 0 }],
      "the old one is kept as it was",
    );
  },
);
