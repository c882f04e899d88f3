/**
 * Logical backups, restores and verification against one PostgreSQL server for the file: the
 * EventChain database, and a "foreign" one this project did not design (inheritance,
 * partitions with foreign keys to a partitioned table, extra and quoted schemas and names,
 * large objects, row security, GRANTs to two roles, default privileges, an unlogged table,
 * comments, a sequence). The tests share the server, so they run serially; each uses its own
 * bucket and databases. As on RDS, everything is built, backed up, restored and verified by the
 * server's master role (LOGIN CREATEROLE CREATEDB, not a superuser); the superuser (`admin()`)
 * only does what a bad migration or the host would (bypassing a foreign key, reading pg_authid).
 */
import test from "ava";
import { readFileSync } from "node:fs";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Ajv } from "ajv";
import pg from "pg";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { countRows, sellTicket } from "../../rehearsal/stand-ins/eventchain-schema.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { backupDatabase, restoreDatabase, verifyDatabaseBackup } from "../../runbooks/postgres/logical.ts";
import { loadDatabaseManifest, manifestKey, type DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { verifyBackup, verifyLiveDatabase } from "../../runbooks/postgres/verify.ts";
import { downloadStream, putJson, BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { useMoto } from "../helpers/moto.ts";
import { canonicalDump, seededDatabase } from "../helpers/postgres.ts";
import {
  buildForeignDatabaseAsMaster,
  dropForeignRoles,
  ownRowCounts,
  sessionWithTempTable,
} from "../helpers/foreign-database.ts";
import { dumpText, lineDifference } from "../helpers/pg-dump-diff.ts";

const moto = useMoto(test);
let shared: LocalPostgres | undefined;
let master: LocalPostgres | undefined;
/** The server as its RDS-shaped master role: every backup, restore and verification here. */
const server = (): LocalPostgres => {
  if (!master) throw new Error("the file's server did not start (test.before failed)");
  return master;
};
/** The superuser: the host's part only. */
const admin = (): LocalPostgres => shared!;
let foreignCounts: Record<string, number> = {};

test.before(async () => {
  shared = await startPostgres();
  master = masterOf(shared);
  await seededDatabase(master, "eventchain", 0.1);
  foreignCounts = await buildForeignDatabaseAsMaster(shared, "foreign_db");
});
test.after.always(() => shared?.destroy());

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

const backupOf = async (database: string, b: Awaited<ReturnType<typeof bucketFor>>) =>
  backupDatabase({ conn: server().connection(database), binDir: server().binDir, ...b });

const verifyLatest = (b: Awaited<ReturnType<typeof bucketFor>>, backupId = "latest") =>
  verifyBackup({ ...b, backupId, server: server().connection(), binDir: server().binDir });

/** A copy of the foreign database to damage (the original stays clean for the other tests). */
async function foreignCopy(name: string): Promise<void> {
  await server().query(`CREATE DATABASE ${name} TEMPLATE foreign_db`);
}

const failedChecks = (r: { checks: { ok: boolean; name: string; detail: string }[] }) =>
  JSON.stringify(r.checks.filter((c) => !c.ok));

const reportSchema = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(new URL("../../runbooks/postgres/verification-report.schema.json", import.meta.url), "utf8")),
);

test.serial("a backup restored into a new database reproduces the data exactly", async (t) => {
  const b = await bucketFor();
  const manifest = await backupOf("eventchain", b);
  const source = await server().client("eventchain");
  t.teardown(() => source.end());
  const counts = await countRows(source);
  t.deepEqual(manifest.rowCounts, Object.fromEntries(Object.entries(counts).map(([k, v]) => [`public.${k}`, v])));
  t.regex(manifest.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  t.true(manifest.object.bytes > 0);
  t.true((await verifyDatabaseBackup(b.s3, b.bucket, manifest)).ok);
  t.deepEqual(await loadDatabaseManifest(b.s3, b.bucket, b.prefix, "latest"), manifest);

  await restoreDatabase({
    ...b,
    manifest,
    target: server().connection("restored_eventchain"),
    binDir: server().binDir,
  });
  t.is(await canonicalDump(server(), "restored_eventchain"), await canonicalDump(server(), "eventchain"));
});

test.serial(
  "verify-backup passes a good backup, applies the EventChain checks and drops its scratch database",
  async (t) => {
    const b = await bucketFor();
    await backupOf("eventchain", b);
    const report = await verifyLatest(b);
    t.true(report.ok, failedChecks(report));
    t.is(report.checks.filter((c) => c.kind === "plan-check").length, 3);
    t.deepEqual(report.profile, {
      name: "eventchain",
      mode: "auto",
      applied: [
        "tickets.event_id → events.id",
        "payments.user_id → users.id",
        "events.organizer_id → organizations.id",
      ],
      notApplicable: [],
    });
    t.true(report.scratchDropped);
    t.true(reportSchema(JSON.parse(JSON.stringify(report))), JSON.stringify(reportSchema.errors));
    t.deepEqual(await server().query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'"), []);
  },
);

for (const damage of ["corrupted", "truncated"] as const) {
  test.serial(`verify-backup detects a ${damage} backup object`, async (t) => {
    const b = await bucketFor();
    const manifest = await backupOf("eventchain", b);
    const original = await readAll(b.s3, b.bucket, manifest.object.key);
    const bad = Buffer.from(original);
    const damaged =
      damage === "corrupted" ? ((bad[Math.floor(bad.length / 2)] ^= 0xff), bad) : bad.subarray(0, bad.length - 100);
    await b.s3.send(
      new PutObjectCommand({ Bucket: b.bucket, Key: manifest.object.key, Body: damaged, ChecksumAlgorithm: "SHA256" }),
    );
    const report = await verifyLatest(b, manifest.backupId);
    t.false(report.ok);
    const object = report.checks.find((c) => c.kind === "object")!;
    t.false(object.ok);
    t.regex(object.detail, damage === "corrupted" ? /checksum|SHA-256/ : /size \d+ bytes, expected/);
  });
}

test.serial("an orphan row injected into tickets is reported by verify-backup", async (t) => {
  await server().query("CREATE DATABASE eventchain_orphan TEMPLATE eventchain");
  const c = await admin().client("eventchain_orphan");
  t.teardown(() => c.end());
  // Bypass the foreign key the way a bad migration or a disabled trigger would.
  await c.query("SET session_replication_role = replica");
  await c.query(
    "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (987654321, NULL, 'Z-1', 10, 'available', 'orphan')",
  );
  await c.query("SET session_replication_role = origin");
  const b = await bucketFor();
  await backupOf("eventchain_orphan", b);
  const report = await verifyLatest(b);
  t.false(report.ok);
  const planCheck = report.checks.find((ch) => ch.name === "tickets.event_id → events.id")!;
  t.false(planCheck.ok);
  t.is(planCheck.detail, "1 orphan row(s)");
  // The other plan checks still pass: the report names the one broken relation.
  t.true(report.checks.filter((ch) => ch.kind === "plan-check" && ch !== planCheck).every((ch) => ch.ok));
  // The declared foreign key reports it too, by its schema-qualified tables, although the
  // restore could not create it (the rows violate it); the restore names the constraint.
  t.regex(
    report.checks.find((ch) => ch.name === "tickets_event_id_fkey (public.tickets → public.events)")!.detail,
    /^1 orphan row\(s\); the constraint is missing here/,
  );
  t.regex(
    report.checks.find((ch) => ch.kind === "restore")!.detail,
    /violates foreign key constraint "tickets_event_id_fkey"/,
  );
  t.true(report.scratchDropped);
});

/** The foreign keys the foreign database declares (not the copies PostgreSQL derives on partitions). */
const FOREIGN_FKS = [
  'Event Log_Mixed Ref_fkey ("Audit"."Event Log" → public."MixedCase")',
  "notes_account_id_fkey (public.notes → public.accounts)",
  "notes_archive_account_fk (public.notes_archive → public.accounts)",
  "order_lines_order_fk (sales.order_lines → sales.orders)",
  "orders_account_id_fkey (sales.orders → public.accounts)",
];

test.serial(
  "verify-backup passes the foreign database, restored and live, expecting every table of every schema by its quoted name",
  async (t) => {
    const b = await bucketFor();
    const manifest = await backupOf("foreign_db", b);
    // The manifest: every dumped table, schema-qualified in PostgreSQL's quoting, counted ONLY.
    t.deepEqual(manifest.rowCounts, foreignCounts);
    t.deepEqual(manifest.partitionedTables, ["sales.order_lines", "sales.orders"]);
    t.deepEqual(manifest.unloggedTables, ["public.session_cache"]);
    t.is(manifest.largeObjects, 3);
    t.deepEqual(manifest.tables, [...Object.keys(foreignCounts), ...manifest.partitionedTables].sort());

    const restored = await verifyLatest(b);
    t.true(restored.ok, failedChecks(restored));
    const live = await verifyLiveDatabase(server().connection("foreign_db"), { manifest });
    t.true(live.ok, failedChecks(live));
    for (const report of [restored, live]) {
      // Each declared foreign key exactly once; the partitions' derived copies are not checks.
      t.deepEqual(
        report.checks.filter((c) => c.kind === "foreign-key").map((c) => c.name),
        FOREIGN_FKS,
      );
      for (const [table, rows] of Object.entries(foreignCounts))
        t.is(report.checks.find((c) => c.name === `table ${table}`)?.detail, `${rows} rows, as in the manifest`);
      t.deepEqual(report.unloggedTables, ["public.session_cache"]);
      t.deepEqual(report.profile.applied, [], "not an EventChain database: its checks do not apply");
      t.is(report.profile.notApplicable.length, 3);
      t.true(reportSchema(JSON.parse(JSON.stringify(report))), JSON.stringify(reportSchema.errors));
    }
    t.true(restored.checks.some((c) => c.kind === "ownership" && c.ok));
    t.true(restored.checks.some((c) => c.kind === "privileges" && c.ok));
    t.regex(restored.notes.join("\n"), /UNLOGGED tables .* a physical restore .* brings them back empty/);
    // The same server already has the roles: none created, none changed.
    t.deepEqual(restored.restore?.roles?.created, []);
  },
);

test.serial(
  "verify-backup catches an orphan in a partition and in an inheritance child, and a table truncated after the backup",
  async (t) => {
    await foreignCopy("foreign_damaged");
    const c = await admin().client("foreign_damaged");
    t.teardown(() => c.end());
    await c.query("SET session_replication_role = replica");
    // A line of an order that does not exist, straight into one hash partition.
    await c.query("INSERT INTO sales.order_lines_1 VALUES (7, '2031-01-01', 1, 'SKU-X', 1)");
    // An archived note of an account that does not exist, in the child that declares its own key.
    await c.query("INSERT INTO public.notes_archive (id, account_id, body) VALUES (999, 424242, 'orphan')");
    await c.query("SET session_replication_role = origin");
    const b = await bucketFor();
    const manifest = await backupOf("foreign_damaged", b);
    const live = await verifyLiveDatabase(server().connection("foreign_damaged"));
    const restored = await verifyLatest(b);
    const fks = (report: typeof live) =>
      Object.fromEntries(report.checks.filter((ch) => ch.kind === "foreign-key").map((ch) => [ch.name, ch.detail]));
    const lines = "order_lines_order_fk (sales.order_lines → sales.orders)";
    const archive = "notes_archive_account_fk (public.notes_archive → public.accounts)";
    // Live: exactly the two orphans, each by its own declared key.
    t.is(fks(live)[lines], "1 orphan row(s)");
    t.is(fks(live)[archive], "1 orphan row(s)");
    // The parent's key covers its own rows: the imported children pointing nowhere are not its orphans.
    t.is(fks(live)["notes_account_id_fkey (public.notes → public.accounts)"], "no orphans");
    t.deepEqual(live.checks.filter((ch) => !ch.ok).length, 2, failedChecks(live));

    // Restored: pg_restore cannot create a key its rows violate, and says so; the check still
    // counts the orphans with the backup's definition of the key.
    t.false(restored.ok);
    const restore = restored.checks.find((ch) => ch.kind === "restore")!.detail;
    // pg_restore's own total: a parallel restore also counts what depended on a failed entry.
    t.regex(restore, /^pg_restore into \w+ failed \([2-9] error\(s\): /);
    t.regex(restore, /violates foreign key constraint "order_lines_order_fk"/);
    t.regex(restore, /violates foreign key constraint "notes_archive_account_fk"/);
    t.false(restore.includes("424242"), "no row values (pg_restore's DETAIL lines) in the report");
    t.regex(fks(restored)[archive]!, /^1 orphan row\(s\); the constraint is missing here/);
    // A parallel pg_restore may create the partitioned table's key before a partition's rows: then
    // that partition's COPY is what fails, and its row count says so.
    const partition = restored.checks.find((ch) => ch.name === "table sales.order_lines_1")!;
    t.true(
      /^1 orphan row\(s\); the constraint is missing here/.test(fks(restored)[lines]!) ||
        (!partition.ok && /^0 rows, manifest has 406$/.test(partition.detail)),
      failedChecks(restored),
    );

    // After the backup, a table loses its rows: checked against the backup's manifest, it fails.
    await c.query('TRUNCATE public."MixedCase" CASCADE');
    const truncated = await verifyLiveDatabase(server().connection("foreign_damaged"), { manifest });
    const counts = truncated.checks.filter((ch) => ch.kind === "row-count" && !ch.ok);
    t.deepEqual(
      counts.map((ch) => [ch.name, ch.detail]),
      [
        ['table "Audit"."Event Log"', "0 rows, manifest has 50"],
        ['table public."MixedCase"', "0 rows, manifest has 20"],
      ],
    );
  },
);

test.serial(
  "a backup taken while a writer inserts and another session holds a temp table passes, and its counts are the dump's exactly",
  async (t) => {
    await server().query("CREATE DATABASE eventchain_busy TEMPLATE eventchain");
    const temp = await sessionWithTempTable(server(), "eventchain_busy");
    t.teardown(() => temp.end());
    const writer = await server().client("eventchain_busy");
    t.teardown(() => writer.end());
    let writing = true;
    let sold = 0;
    const writes = (async () => {
      while (writing) {
        await sellTicket(writer);
        sold++;
      }
    })();
    const before = await countRows(writer);
    const b = await bucketFor();
    let manifest: DatabaseManifest;
    try {
      manifest = await backupOf("eventchain_busy", b);
    } finally {
      writing = false;
      await writes;
    }
    const after = await countRows(writer);
    t.true(sold > 0 && after.tickets > before.tickets, "the writer inserted during the backup");
    t.false(
      Object.keys(manifest.rowCounts).some((k) => k.includes("scratch_work")),
      "another session's temp table is neither counted nor dumped",
    );
    // Restored, every table has exactly the manifest's rows.
    await restoreDatabase({ ...b, manifest, target: server().connection("restored_busy"), binDir: server().binDir });
    const restored = await server().client("restored_busy");
    t.teardown(() => restored.end());
    t.deepEqual(await ownRowCounts(restored), manifest.rowCounts);
    t.true(
      manifest.rowCounts["public.tickets"]! >= before.tickets && manifest.rowCounts["public.tickets"]! <= after.tickets,
    );
    const report = await verifyLatest(b);
    t.true(report.ok, failedChecks(report));
  },
);

test.serial(
  "the roles script carries no password verifier unless asked, and asking as a user who cannot read them is refused",
  async (t) => {
    const b = await bucketFor();
    const manifest = await backupOf("foreign_db", b);
    t.is(manifest.roles?.passwords, "omitted");
    const script = (await readAll(b.s3, b.bucket, manifest.roles!.key)).toString("utf8");
    t.regex(script, /^CREATE ROLE "Fx Writer";$/m);
    t.regex(script, /No password verifiers/);
    t.false(
      /PASSWORD|SCRAM-SHA-256|SUPERUSER|REPLICATION|BYPASSRLS|rds_superuser/.test(
        script.split("\n").slice(1).join("\n"),
      ),
      script,
    );
    t.deepEqual(
      manifest.roles?.leftOut?.find((l) => l.item === "password verifiers"),
      {
        role: "-",
        item: "password verifiers",
        reason: "not carried by default (backup-database --carry-password-verifiers carries them)",
      },
      JSON.stringify(manifest.roles?.leftOut),
    );
    const report = await verifyLatest(b);
    t.true(report.ok, failedChecks(report));
    t.regex(report.notes.join("\n"), /carries no password verifiers: roles a restore creates have no password/);

    // The master role cannot read pg_authid (RDS hides it): asked to carry verifiers, the backup refuses.
    const refused = await bucketFor();
    const error = await t.throwsAsync(
      backupDatabase({
        conn: server().connection("foreign_db"),
        binDir: server().binDir,
        ...refused,
        rolePasswords: true,
      }),
    );
    t.regex(error!.message, /cannot carry password verifiers: eventchain_admin cannot read pg_authid/);
    t.regex(error!.message, /nothing is left under s3:\/\/backups-\d+-\d+\/database\/\d{8}T\d{6}Z\//);
    // A superuser's backup (a self-managed server) may carry them, and the script says so.
    const withHashes = await bucketFor();
    const carried = await backupDatabase({
      conn: admin().connection("foreign_db"),
      binDir: admin().binDir,
      ...withHashes,
      rolePasswords: true,
    });
    t.is(carried.roles?.passwords, "included");
    const hashed = (await readAll(withHashes.s3, withHashes.bucket, carried.roles!.key)).toString("utf8");
    t.regex(hashed, /Carries password verifiers/);
    t.regex(hashed, /^ALTER ROLE "Fx Writer" WITH .*PASSWORD 'SCRAM-SHA-256\$/m);
  },
);

test.serial("a v1 manifest (unqualified names, no roles) still verifies", async (t) => {
  const b = await bucketFor();
  const m = await backupOf("eventchain", b);
  const v1 = {
    manifestVersion: 1,
    kind: "database",
    backupId: m.backupId,
    database: m.database,
    format: m.format,
    compression: m.compression,
    serverVersion: m.serverVersion,
    serverVersionNum: m.serverVersionNum,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
    lsn: m.lsn,
    rowCounts: Object.fromEntries(Object.entries(m.rowCounts).map(([k, v]) => [k.replace(/^public\./, ""), v])),
    object: m.object,
  };
  await putJson(b.s3, b.bucket, manifestKey(b.prefix, m.backupId), v1);
  const report = await verifyLatest(b);
  t.true(report.ok, failedChecks(report));
  t.is(report.checks.filter((c) => c.kind === "row-count").length, 5);
  t.regex(report.notes.join("\n"), /Manifest v1/);
});

test.serial(
  "--no-owner and --no-privileges restore a portable copy that loses ownership and GRANTs, and say so",
  async (t) => {
    const b = await bucketFor();
    await backupOf("foreign_db", b);
    const report = await verifyBackup({
      ...b,
      backupId: "latest",
      server: server().connection(),
      binDir: server().binDir,
      ownership: false,
      privileges: false,
    });
    t.true(report.ok, failedChecks(report));
    t.false(
      report.checks.some((c) => c.kind === "ownership" || c.kind === "privileges"),
      "not compared: not kept",
    );
    t.deepEqual(report.restore && [report.restore.ownership, report.restore.privileges], [false, false]);

    // What such a restore loses, shown on a restored copy.
    const m = await loadDatabaseManifest(b.s3, b.bucket, b.prefix, "latest");
    await restoreDatabase({
      ...b,
      manifest: m,
      target: server().connection("portable_copy"),
      binDir: server().binDir,
      ownership: false,
      privileges: false,
    });
    const [owner] = await server().query<{ owner: string; reader: boolean }>(
      "SELECT pg_get_userbyid(relowner) AS owner, has_table_privilege('fx_reader', 'sales.orders', 'SELECT') AS reader FROM pg_class WHERE oid = 'sales.orders'::regclass",
      [],
      "portable_copy",
    );
    t.deepEqual(owner, { owner: "eventchain_admin", reader: false });
    const live = await verifyLiveDatabase(server().connection("portable_copy"), { manifest: m });
    t.deepEqual(
      live.checks.filter((c) => !c.ok).map((c) => c.kind),
      ["ownership", "privileges"],
      "checked against the manifest, the losses show",
    );
  },
);

test.serial(
  "a logical round trip to a server without the roles recreates them and differs from the original by nothing pg_dump → pg_restore → pg_dump does not",
  async (t) => {
    const originalDump = await dumpText(server(), "foreign_db");

    // PostgreSQL's own round trip, measured: pg_dump -Fc → pg_restore → pg_dump.
    const env = { ...process.env, ...server().env("foreign_db") };
    const { $ } = await import("zx");
    await server().query("CREATE DATABASE baseline_copy");
    await $({ env, quiet: true })`${server().binDir}/pg_dump -Fc -f ${`${server().baseDir}/baseline.dump`} foreign_db`;
    await $({
      env,
      quiet: true,
    })`${server().binDir}/pg_restore --exit-on-error -d baseline_copy ${`${server().baseDir}/baseline.dump`}`;
    const baseline = lineDifference(originalDump, await dumpText(server(), "baseline_copy"));

    // Ours: back up, then lose the database and its roles (a new server), then restore.
    const b = await bucketFor();
    const manifest = await backupOf("foreign_db", b);
    t.deepEqual(manifest.roles?.names, ["Fx Writer", "eventchain_admin", "fx_owner", "fx_reader"]);
    t.is(manifest.roles?.passwords, "omitted");
    for (const db of await server().query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')",
    ))
      await server().query(`DROP DATABASE "${db.datname}" WITH (FORCE)`);
    await dropForeignRoles(server());

    // verify-backup creates the roles it needs for its scratch restore, and drops them after.
    const report = await verifyLatest(b);
    t.true(report.ok, failedChecks(report));
    t.deepEqual(report.restore?.roles?.created, ["Fx Writer", "fx_owner", "fx_reader"]);
    t.deepEqual(report.restore?.roles?.existing, ["eventchain_admin"]);
    t.deepEqual(
      await server().query("SELECT rolname FROM pg_roles WHERE rolname IN ('fx_owner', 'fx_reader', 'Fx Writer')"),
      [],
    );

    const r = await restoreDatabase({
      ...b,
      manifest,
      target: server().connection("foreign_restored"),
      binDir: server().binDir,
    });
    t.deepEqual(r.roles?.memberships, ["eventchain_admin → fx_owner", "Fx Writer → fx_reader"]);
    t.is(r.replaced, null);
    const ours = lineDifference(originalDump, await dumpText(server(), "foreign_restored"));
    t.log("PostgreSQL's own differences (pg_dump → pg_restore → pg_dump):", baseline);
    // Only pg_dump's per-run \restrict key differs, in the baseline and in ours alike.
    const kind = (l: string) => l.replace(/^\\(un)?restrict \S+$/, "\\$1restrict <key>");
    t.deepEqual(ours.onlyInFirst.map(kind), baseline.onlyInFirst.map(kind));
    t.deepEqual(ours.onlyInSecond.map(kind), baseline.onlyInSecond.map(kind));
    t.true(
      ours.onlyInFirst.every((l) => /^\\(un)?restrict /.test(l)),
      JSON.stringify(ours),
    );

    // The roles came back as they were: attributes, settings, comment, membership; no password.
    const [role] = await admin().query(
      `SELECT r.rolcanlogin, r.rolconnlimit, r.rolconfig, a.rolpassword IS NULL AS no_password, shobj_description(r.oid, 'pg_authid') AS comment
       FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = 'Fx Writer'`,
    );
    t.deepEqual(role, {
      rolcanlogin: true,
      rolconnlimit: 5,
      rolconfig: ["statement_timeout=30s"],
      no_password: true,
      comment: "writes orders; member of fx_reader",
    });
    // As the report says: set the password before anyone logs in.
    await server().query(`ALTER ROLE "Fx Writer" PASSWORD 'fx-writer-password'`);
    // And the application role has its access again.
    const app = new pg.Client({
      ...server().connection("foreign_restored"),
      user: "Fx Writer",
      password: "fx-writer-password",
    });
    await app.connect();
    t.teardown(() => app.end());
    // Row security came back too: the writer, a member of fx_reader, sees the small orders only.
    const [{ small }] = (await server().query<{ small: number }>(
      "SELECT count(*)::int AS small FROM sales.orders WHERE total < 500",
      [],
      "foreign_restored",
    )) as [{ small: number }];
    t.true(small > 0 && small < foreignCounts["sales.orders_2024"]! + foreignCounts["sales.orders_2025"]!);
    t.is((await app.query("SELECT count(*)::int AS n FROM sales.orders")).rows[0].n, small);
    const live = await verifyLiveDatabase(server().connection("foreign_restored"), { manifest });
    t.true(live.ok, failedChecks(live));
  },
);
