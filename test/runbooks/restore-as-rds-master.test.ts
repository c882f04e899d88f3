/**
 * Restores as RDS's master user, on a server that lacks the backup's roles: the foreign database
 * (three schemas, an owning role, two grantee roles, a column GRANT, default privileges, a
 * policy, large objects), built and backed up by the source server's master role, restored and
 * verified on a second server by its master role (LOGIN CREATEROLE CREATEDB, never a
 * superuser), and by a plain user without CREATEROLE; owners and privileges kept, --no-owner,
 * --no-privileges and both. Each has its expected result, and no check fails that should not.
 */
import test from "ava";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { backupDatabase, restoreDatabase } from "../../runbooks/postgres/logical.ts";
import type { DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { verifyBackup } from "../../runbooks/postgres/verify.ts";
import { buildForeignDatabaseAsMaster, dropForeignRoles } from "../helpers/foreign-database.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);
let source: LocalPostgres | undefined;
let target: LocalPostgres | undefined;
let bucket: { s3: BackupS3Client; bucket: string; prefix: string } | undefined;
let manifest: DatabaseManifest | undefined;
const FX_ROLES = ["Fx Writer", "fx_owner", "fx_reader"];

test.before(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  await buildForeignDatabaseAsMaster(source, "foreign_db");
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  bucket = { s3, bucket: `rds-master-${process.pid}`, prefix: "database/" };
  await s3.send(new CreateBucketCommand({ Bucket: bucket.bucket }));
  const m = masterOf(source);
  manifest = await backupDatabase({ conn: m.connection("foreign_db"), binDir: m.binDir, ...bucket });
  // A user that may create databases but not roles.
  await target.query("CREATE ROLE plain_restorer LOGIN CREATEDB PASSWORD 'plain-restorer-password'");
});
test.after.always(async () => {
  await Promise.all([source?.destroy(), target?.destroy()]);
});

const fxRolesOn = async (server: LocalPostgres) =>
  (
    await server.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1", [
      FX_ROLES,
    ])
  ).map((r) => r.rolname);

const KEEPS = {
  "owners and privileges": { ownership: true, privileges: true },
  "--no-owner": { ownership: false, privileges: true },
  "--no-privileges": { ownership: true, privileges: false },
  "--no-owner --no-privileges": { ownership: false, privileges: false },
} as const;

for (const [label, keep] of Object.entries(KEEPS)) {
  test.serial(
    `as the RDS-shaped master role, ${label}: verify-backup passes with every kept fact compared`,
    async (t) => {
      const m = masterOf(target!);
      const report = await verifyBackup({
        ...bucket!,
        backupId: manifest!.backupId,
        server: m.connection(),
        binDir: m.binDir,
        ...keep,
      });
      t.true(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
      const kinds = new Set(report.checks.map((c) => c.kind));
      t.is(kinds.has("ownership"), keep.ownership, "owners compared exactly when kept");
      t.is(
        kinds.has("privileges"),
        keep.privileges,
        "privileges compared when kept (owner and grantor mapped with --no-owner)",
      );
      t.true(kinds.has("large-objects"));
      if (keep.ownership || keep.privileges) {
        t.deepEqual(report.restore?.roles?.created, ["Fx Writer", "fx_owner", "fx_reader"]);
        t.deepEqual(report.restore?.roles?.existing, ["eventchain_admin"]);
      } else {
        t.is(report.restore?.roles, null, "neither owners nor privileges kept: no role recreated");
        t.regex(report.notes.join("\n"), /no role was recreated/);
      }
      if (!keep.privileges)
        t.true(
          report.restore!.leftOut.some((l) => l.item === "policy sales orders small_orders"),
          JSON.stringify(report.restore?.leftOut),
        );
      t.deepEqual(await fxRolesOn(target!), [], "the roles the verification created are gone again");
      t.true(report.scratchDropped);
    },
  );
}

for (const [label, keep] of Object.entries(KEEPS)) {
  const needsRoles = keep.ownership || keep.privileges;
  test.serial(
    `as a user without CREATEROLE, ${label}: ${needsRoles ? "refused, saying what it needs" : "passes (no role needed)"}`,
    async (t) => {
      const conn = { ...target!.connection(), user: "plain_restorer", password: "plain-restorer-password" };
      const report = await verifyBackup({
        ...bucket!,
        backupId: manifest!.backupId,
        server: conn,
        binDir: target!.binDir,
        ...keep,
      });
      if (needsRoles) {
        t.false(report.ok);
        const restore = report.checks.find((c) => c.kind === "restore")!;
        t.regex(
          restore.detail,
          /cannot recreate role "[^"]+" before the restore: permission denied to create role; the restoring user needs CREATEROLE/,
        );
      } else {
        t.true(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok)));
        t.is(report.restore?.roles, null);
      }
      t.deepEqual(await fxRolesOn(target!), []);
      t.deepEqual(await target!.query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'"), []);
    },
  );
}

test.serial(
  "restored by the master role, roles, memberships, owners and privileges come back as they were",
  async (t) => {
    const m = masterOf(target!);
    t.teardown(async () => {
      await target!.query("DROP DATABASE IF EXISTS foreign_copy WITH (FORCE)");
      await dropForeignRoles(target!);
    });
    const r = await restoreDatabase({
      ...bucket!,
      manifest: manifest!,
      target: m.connection("foreign_copy"),
      binDir: m.binDir,
    });
    t.deepEqual(r.roles?.created, ["Fx Writer", "fx_owner", "fx_reader"]);
    t.deepEqual(r.borrowed, [], "the backup's own membership (eventchain_admin in fx_owner) came back with the roles");
    const facts = await m.query(
      `SELECT pg_get_userbyid(c.relowner) AS owner,
              has_table_privilege('fx_reader', 'sales.orders', 'SELECT') AS reader_reads,
              has_table_privilege('Fx Writer', 'sales.orders', 'INSERT') AS writer_inserts,
              has_column_privilege('fx_reader', 'public.accounts', 'name', 'SELECT') AS column_grant,
              has_table_privilege('fx_reader', 'public.accounts', 'SELECT') AS whole_table,
              pg_has_role('Fx Writer', 'fx_reader', 'MEMBER') AS writer_in_reader,
              (SELECT count(*)::int FROM pg_default_acl) AS default_acls,
              (SELECT count(*)::int FROM pg_policy) AS policies
       FROM pg_class c WHERE c.oid = 'sales.orders'::regclass`,
      [],
      "foreign_copy",
    );
    t.deepEqual(facts, [
      {
        owner: "fx_owner",
        reader_reads: true,
        writer_inserts: true,
        column_grant: true,
        whole_table: false,
        writer_in_reader: true,
        default_acls: 2,
        policies: 1,
      },
    ]);
    const [{ super: isSuper }] = (await target!.query<{ super: boolean }>(
      "SELECT rolsuper AS super FROM pg_roles WHERE rolname = 'eventchain_admin'",
    )) as [{ super: boolean }];
    t.false(isSuper, "restored by a role that is not a superuser");
  },
);
