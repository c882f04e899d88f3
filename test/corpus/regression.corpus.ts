/**
 * `npm run test:corpus`: the logical and physical paths on a foreign corpus nobody here wrote,
 * PostgreSQL's own regression database (see test/helpers/regression-corpus.ts), with three
 * verdicts printed:
 *
 * 1. logical round trip: `pg_dump` of the original and of our restore differ by no more lines
 *    than `pg_dump` → `pg_restore` → `pg_dump` does on its own;
 * 2. verify-backup: 0 failed checks;
 * 3. physical point-in-time restore (pgBackRest): identical, but for the rows of UNLOGGED tables.
 *
 * The regression database holds what only a superuser can create (C functions, base types,
 * event triggers, objects owned by the bootstrap superuser): it cannot exist on RDS, so these
 * run as the superuser. As the RDS-shaped master role, a fourth figure: our restore meets no
 * more pg_restore errors than pg_restore itself does as that role.
 */
import test from "ava";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { $ } from "zx";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { adoptPostgres, type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { backupDatabase, restoreDatabase } from "../../runbooks/postgres/logical.ts";
import type { DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { baseBackup, enableArchiving, latestArchivedAt, restoreToTime } from "../../runbooks/postgres/pgbackrest.ts";
import { verifyBackup } from "../../runbooks/postgres/verify.ts";
import { useMoto } from "../helpers/moto.ts";
import { dumpText, lineDifference } from "../helpers/pg-dump-diff.ts";
import { buildRegressionDatabase } from "../helpers/regression-corpus.ts";

const moto = useMoto(test);
let server: LocalPostgres | undefined;
let manifest: DatabaseManifest | undefined;
let bucket: { s3: BackupS3Client; bucket: string; prefix: string } | undefined;
let original = "";
const verdicts: string[] = [];

/** pg_dump's per-run `\restrict` key differs in every dump: not a difference of content. */
const content = (lines: string[]) => lines.filter((l) => !/^\\(un)?restrict /.test(l));
const differing = (a: string, b: string) => {
  const d = lineDifference(a, b);
  return content(d.onlyInFirst).length + content(d.onlyInSecond).length;
};

test.before(async (t) => {
  server = await startPostgres({ settings: { max_prepared_transactions: 10 } });
  const built = await buildRegressionDatabase(server);
  const [facts] = await server.query<{ relations: string; size: string }>(
    `SELECT (SELECT count(*) FROM pg_class) AS relations, pg_size_pretty(pg_database_size('regression')) AS size`,
    [],
    "regression",
  );
  t.log(`corpus: ${built.summary}; ${facts!.relations} relations, ${facts!.size}`);
  for (const [step, seconds] of Object.entries(built.timings)) t.log(`  ${step}: ${seconds.toFixed(1)} s`);
  original = await dumpText(server, "regression");
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  bucket = { s3, bucket: `corpus-${process.pid}`, prefix: "database/" };
  await s3.send(new CreateBucketCommand({ Bucket: bucket.bucket }));
  manifest = await backupDatabase({ conn: server.connection("regression"), binDir: server.binDir, ...bucket });
});
test.after.always(async (t) => {
  for (const v of verdicts) t.log(v);
  console.log(["", "Corpus verdicts:", ...verdicts.map((v) => `  ${v}`), ""].join("\n"));
  await server?.destroy();
});

test.serial("logical round trip: no more differing lines than pg_dump → pg_restore's own", async (t) => {
  const s = server!;
  const env = { ...process.env, ...s.env("regression") };
  const file = `${s.baseDir}/baseline.dump`;
  await $({ env, quiet: true })`${s.binDir}/pg_dump -Fc -f ${file} regression`;
  await s.query("CREATE DATABASE regression_baseline");
  await $({ env, quiet: true })`${s.binDir}/pg_restore -d regression_baseline ${file}`;
  const baseline = differing(original, await dumpText(s, "regression_baseline"));
  await restoreDatabase({ ...bucket!, manifest: manifest!, target: s.connection("regression_ours"), binDir: s.binDir });
  const ours = differing(original, await dumpText(s, "regression_ours"));
  const ok = ours <= baseline;
  verdicts.push(
    `${ok ? "PASS" : "FAIL"} logical round trip: ${ours} differing lines (pg_dump → pg_restore alone: ${baseline})`,
  );
  t.true(ok, `ours ${ours}, baseline ${baseline}`);
});

test.serial("verify-backup: 0 failed checks", async (t) => {
  const s = server!;
  const report = await verifyBackup({
    ...bucket!,
    backupId: manifest!.backupId,
    server: s.connection(),
    binDir: s.binDir,
  });
  const failed = report.checks.filter((c) => !c.ok);
  verdicts.push(
    `${failed.length === 0 ? "PASS" : "FAIL"} verify-backup: ${failed.length} of ${report.checks.length} checks failed${
      failed.length
        ? `: ${failed
            .slice(0, 5)
            .map((c) => `${c.name}: ${c.detail}`)
            .join("; ")}`
        : ""
    }`,
  );
  t.deepEqual(failed, []);
});

test.serial("physical point-in-time restore: identical but for the UNLOGGED tables' rows", async (t) => {
  const s = server!;
  const cfg = await enableArchiving(s, {
    dir: `${s.baseDir}/pgbackrest`,
    stanza: "corpus",
    repo: { type: "posix", path: `${s.baseDir}/repo` },
    archiveTimeoutSeconds: 10,
    retentionFull: 1,
  });
  const backup = await baseBackup(cfg, "full");
  await s.query("SELECT pg_switch_wal()");
  for (let i = 0; i < 300 && !(await latestArchivedAt(cfg)); i++) await new Promise((r) => setTimeout(r, 100));
  const dataDir = `${s.baseDir}/recovered/data`;
  // pgBackRest reports the backup's stop to the second, rounded up: pick the set by a time after it.
  const after = new Date(Math.max(Date.now(), new Date(backup.stoppedAt).getTime() + 1000));
  // PostgreSQL promotes by itself at the end of the WAL: this compares data, not the runbook's
  // held verification (the default "pause" leaves a read-only standby that reads no UNLOGGED table).
  await restoreToTime(cfg, { targetDataDir: dataDir, time: after, stop: { kind: "end-of-wal" }, action: "promote" });
  const recovered = await adoptPostgres({
    binDir: s.binDir,
    baseDir: `${s.baseDir}/recovered`,
    dataDir,
    password: s.connection().password,
    settings: { archive_mode: "off" },
  });
  await recovered.start();
  t.teardown(() => recovered.stop("immediate").catch(() => undefined));
  for (let i = 0; i < 300; i++) {
    const [r] = await recovered.query<{ recovering: boolean }>("SELECT pg_is_in_recovery() AS recovering");
    if (!r!.recovering) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  // UNLOGGED relations: tables, and (PostgreSQL 15) the sequences they own, reset by recovery.
  const relations = await s.query<{ name: string; kind: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind AS kind FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'S') ORDER BY 1`,
    [],
    "regression",
  );
  const unlogged = relations.filter((r) => r.kind === "r");
  const exclude = relations.flatMap((u) => ["--exclude-table-data", u.name]);
  const dump = async (x: LocalPostgres) =>
    (
      await $({
        env: { ...process.env, ...x.env("regression") },
        quiet: true,
      })`${x.binDir}/pg_dump ${exclude} regression`
    ).stdout;
  const d = lineDifference(await dump(s), await dump(recovered));
  const rest = content(d.onlyInFirst).length + content(d.onlyInSecond).length;
  if (rest) t.log("differing lines:", content(d.onlyInFirst), content(d.onlyInSecond));
  const empty = await Promise.all(
    unlogged.map(async (u) =>
      Number((await recovered.query<{ n: string }>(`SELECT count(*) AS n FROM ${u.name}`, [], "regression"))[0]!.n),
    ),
  );
  const ok = rest === 0 && empty.every((n) => n === 0);
  verdicts.push(
    `${ok ? "PASS" : "FAIL"} physical PITR: ${rest} differing lines apart from the data of ${relations.length} UNLOGGED relation(s); its ${unlogged.length} UNLOGGED table(s) came back empty (${empty.filter((n) => n === 0).length} of ${unlogged.length})`,
  );
  t.true(ok);
});

test.serial(
  "as the RDS-shaped master role: no more pg_restore errors than pg_restore's own as that role",
  async (t) => {
    // What only a superuser could create fails for both: C functions, base types, event triggers.
    const s = server!;
    const m = masterOf(s);
    const file = `${s.baseDir}/baseline.dump`;
    await m.query("CREATE DATABASE regression_master_baseline");
    const env = { ...process.env, ...m.env("regression_master_baseline") };
    const r = await $({
      env,
      quiet: true,
      nothrow: true,
    })`${s.binDir}/pg_restore --no-owner --jobs=2 -d regression_master_baseline ${file}`;
    // As ours restores (--jobs=2: a parallel restore also counts a failed entry's dependants), by pg_restore's own total.
    const baseline = Number(/errors ignored on restore: (\d+)/.exec(r.stderr)?.[1] ?? 0);
    const report = await verifyBackup({
      ...bucket!,
      backupId: manifest!.backupId,
      server: m.connection(),
      binDir: s.binDir,
      ownership: false,
    });
    const detail = report.checks.find((c) => c.kind === "restore")!.detail;
    const ours = [...detail.matchAll(/(\d+) error\(s\)/g)].reduce((n, m) => n + Number(m[1]), 0);
    const ok = ours <= baseline;
    verdicts.push(
      `${ok ? "PASS" : "FAIL"} as the master role (--no-owner): ${ours} pg_restore errors (pg_restore --no-owner --jobs=2 alone, as that role: ${baseline})`,
    );
    t.true(ok, detail);
  },
);
