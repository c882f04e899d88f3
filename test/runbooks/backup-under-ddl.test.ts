/**
 * Backups while the database changes: two writers sell tickets and a third session creates,
 * alters and drops tables every ~100 ms, while ten backups run, each beside a plain
 * `pg_dump -Fc` under the same load. A backup of ours fails only the way pg_dump alone does (a
 * table dropped before its lock), and then only after its one retry; no failed backup leaves
 * anything in the bucket; every backup restores to exactly its manifest's counts. The figures
 * are logged side by side; no duration is asserted.
 */
import test from "ava";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { $ } from "zx";
import { createSchema, seed, sellTicket } from "../../rehearsal/stand-ins/eventchain-schema.ts";
import { createDatabase, masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { backupDatabase, changedUnderDump, restoreDatabase } from "../../runbooks/postgres/logical.ts";
import type { DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { ownRowCounts } from "../helpers/foreign-database.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);
const BACKUPS = 10;

// Long on purpose: the load, the ten backups beside pg_dump, and the checks of what they left read in order.
test("ten backups under two writers and a DDL loop succeed where pg_dump does, leave no orphan and restore to their counts", async (t) => {
  const su = await startPostgres();
  t.teardown(() => su.destroy());
  const server = masterOf(su);
  await createDatabase(server, "busy");
  const setup = await server.client("busy");
  t.teardown(() => setup.end());
  await createSchema(setup);
  await seed(setup, 0.05);

  let running = true;
  const load: Promise<number>[] = [];
  for (let w = 0; w < 2; w++)
    load.push(
      (async () => {
        const c = await server.client("busy");
        let sold = 0;
        try {
          while (running) {
            await sellTicket(c);
            sold++;
          }
        } finally {
          await c.end();
        }
        return sold;
      })(),
    );
  load.push(
    (async () => {
      const c = await server.client("busy");
      let cycles = 0;
      try {
        for (let i = 0; running; i++) {
          const name = `churn_${i % 5}`;
          await c.query(`CREATE TABLE IF NOT EXISTS ${name} (id int, v text)`);
          await c.query(`ALTER TABLE ${name} ADD COLUMN c${i} int`);
          await c.query(`DROP TABLE ${name}`);
          cycles++;
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await c.end();
      }
      return cycles;
    })(),
  );

  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `busy-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const ours: { manifest?: DatabaseManifest; error?: string; retried: boolean }[] = [];
  const plain: { ok: boolean; error?: string }[] = [];
  const env = { ...process.env, ...server.env("busy") };
  try {
    for (let i = 0; i < BACKUPS; i++) {
      const logged: string[] = [];
      try {
        const manifest = await backupDatabase({
          conn: server.connection("busy"),
          binDir: server.binDir,
          s3,
          bucket,
          prefix: "database/",
          backupId: `20300101T0000${String(i).padStart(2, "0")}Z`,
          log: (l) => logged.push(l),
        });
        ours.push({ manifest, retried: logged.length > 0 });
      } catch (error) {
        ours.push({ error: (error as Error).message, retried: logged.length > 0 });
      }
      const r = await $({
        env,
        quiet: true,
        nothrow: true,
      })`${server.binDir}/pg_dump -Fc --no-sync -f ${`${su.baseDir}/plain.dump`} busy`;
      plain.push({ ok: r.exitCode === 0, ...(r.exitCode === 0 ? {} : { error: r.stderr.trim().split("\n")[0] }) });
    }
  } finally {
    running = false;
  }
  const [soldA, soldB, cycles] = await Promise.all(load);
  t.log(
    `load: ${soldA! + soldB!} tickets sold, ${cycles} DDL cycles; ours: ${ours.filter((o) => o.manifest).length}/${BACKUPS} succeeded (${ours.filter((o) => o.retried).length} after a retry); pg_dump -Fc alone: ${plain.filter((p) => p.ok).length}/${BACKUPS} succeeded`,
  );
  for (const p of plain.filter((x) => !x.ok)) t.log(`pg_dump alone failed: ${p.error}`);
  t.true(cycles! > 0 && soldA! > 0 && soldB! > 0, "the load ran during the backups");

  // Ours fails only the way pg_dump alone does, and only after its one retry.
  for (const o of ours.filter((x) => x.error)) {
    t.log(`ours failed: ${o.error}`);
    t.true(o.retried && changedUnderDump(o.error!), o.error);
  }
  // No orphan: every object in the bucket belongs to a backup with a manifest; no upload left open.
  const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!);
  const withManifest = new Set(keys.filter((k) => k.endsWith("/manifest.json")).map((k) => k.split("/")[1]));
  t.deepEqual(
    keys.filter((k) => !withManifest.has(k.split("/")[1])),
    [],
  );
  t.is(withManifest.size, ours.filter((o) => o.manifest).length);
  t.deepEqual((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], []);

  // Each restore has exactly its manifest's counts.
  for (const [i, o] of ours.entries()) {
    if (!o.manifest) continue;
    const name = `busy_restored_${i}`;
    await restoreDatabase({ s3, bucket, manifest: o.manifest, target: server.connection(name), binDir: server.binDir });
    const c = await server.client(name);
    try {
      t.deepEqual(await ownRowCounts(c), o.manifest.rowCounts, `backup ${o.manifest.backupId}`);
    } finally {
      await c.end();
    }
  }
});
