/**
 * Logical backup of the primary database (the plan's database-backup.sh, fixed): `pg_dump` in
 * the custom format (compressed once, parallel-restorable) streamed into the backup bucket
 * with SHA-256 checksums, the roles the database needs (`pg_dumpall --roles-only`, kept for
 * them) next to it, a manifest (every dumped table schema-qualified with its exact row count in
 * the dump's own snapshot, unlogged and partitioned tables, declared foreign keys, owner and
 * privilege digests, large objects' count and bytes, sizes, checksums, server version, LSN,
 * times; password verifiers only with --carry-password-verifiers), verification that reads the
 * object back, an optional test restore into a scratch database, and a retention report by age.
 * Nothing is deleted: the bucket's lifecycle expires old backups; this runbook only reports
 * what is older than the objective.
 *
 *   npx zx runbooks/backup-database.ts --stack prod
 *   npx zx runbooks/backup-database.ts --outputs local.json --connection env --test-restore
 */
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import { positiveInt, withDefaults } from "./lib/options.ts";
import { parseConnectionMode, resolveConnection, type ConnectionMode } from "./postgres/connection.ts";
import { listBackups, olderThanRetention, type DatabaseManifest } from "./postgres/manifest.ts";
import { backupDatabase, verifyDatabaseBackup } from "./postgres/logical.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { verifyBackup } from "./postgres/verify.ts";
import { findPostgresBinDir } from "./postgres/cluster.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type OptionSpec, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface BackupDatabaseOptions {
  connection: ConnectionMode;
  compressLevel: number;
  testRestore: boolean;
  jobs: number;
  carryPasswordVerifiers: boolean;
}

type Ctx = RunContext<BackupDatabaseOptions>;
const s3Of = (ctx: Ctx) => ctx.aws(BackupS3Client, ctx.outputs.region);
const kmsOf = (ctx: Ctx) =>
  ctx.outputs.backup.kmsKeyArn.startsWith("arn:") ? ctx.outputs.backup.kmsKeyArn : undefined;

export const BACKUP_DATABASE_OPTIONS = {
  connection: {
    type: "string",
    description: "outputs (stack database + master secret) or env (libpq PGHOST…)",
    default: "outputs",
  },
  "compress-level": {
    type: "string",
    description: "pg_dump compression level 0-9 (the dump is compressed once)",
    default: "1",
  },
  "test-restore": {
    type: "boolean",
    description: "Also restore into a scratch database and run the integrity checks",
  },
  jobs: { type: "string", description: "Parallel pg_restore jobs for --test-restore", default: "2" },
  "carry-password-verifiers": {
    type: "boolean",
    description:
      "Carry the roles' password verifiers (SCRAM hashes, crackable offline) in roles.sql, encrypted like the rest; off by default (RDS hides them anyway)",
  },
} satisfies Record<string, OptionSpec>;

export function parseBackupDatabaseOptions(raw: RawOptions): BackupDatabaseOptions {
  const options = withDefaults(BACKUP_DATABASE_OPTIONS, raw);
  return {
    connection: parseConnectionMode(options),
    compressLevel: options["compress-level"] === "0" ? 0 : positiveInt(options, "compress-level", 9),
    testRestore: options["test-restore"] === true,
    jobs: positiveInt(options, "jobs", 64),
    carryPasswordVerifiers: options["carry-password-verifiers"] === true,
  };
}

const step = stepFor<BackupDatabaseOptions>();

export const dumpAndUpload = step({
  id: "dump-and-upload",
  dependsOn: [],
  title: "Dump the database and stream it into the backup bucket",
  describe: (ctx) => [
    {
      kind: "command",
      action: `pg_dump --format=custom --compress=${ctx.options.compressLevel} --snapshot=<exported> ${ctx.outputs.database.dbName}`,
      detail: { connection: ctx.options.connection },
    },
    {
      kind: "aws",
      action: `s3:CreateMultipartUpload/UploadPart/CompleteMultipartUpload (${ctx.outputs.region})`,
      detail: {
        Bucket: ctx.outputs.backup.bucketName,
        Key: `${ctx.outputs.backup.prefixes.database}<backup id>/${ctx.outputs.database.dbName}.dump`,
        ChecksumAlgorithm: "SHA256",
      },
    },
    {
      kind: "command",
      action: ctx.options.carryPasswordVerifiers
        ? "pg_dumpall --roles-only (WITH the password verifiers, as asked), kept for the roles the database needs, without superuser attributes"
        : "pg_dumpall --roles-only --no-role-passwords, kept for the roles the database needs, without superuser attributes",
    },
    {
      kind: "aws",
      action: `s3:PutObject (${ctx.outputs.region})`,
      detail: {
        Keys: [
          `${ctx.outputs.backup.prefixes.database}<backup id>/roles.sql`,
          `${ctx.outputs.backup.prefixes.database}<backup id>/manifest.json`,
        ],
      },
    },
  ],
  async run(ctx) {
    const conn = await resolveConnection(ctx, ctx.options.connection);
    const binDir = await findPostgresBinDir();
    const manifest = await ctx.wait("pg_dump → S3", () =>
      backupDatabase({
        conn,
        binDir,
        s3: s3Of(ctx),
        bucket: ctx.outputs.backup.bucketName,
        prefix: ctx.outputs.backup.prefixes.database,
        kmsKeyId: kmsOf(ctx),
        compressLevel: ctx.options.compressLevel,
        rolePasswords: ctx.options.carryPasswordVerifiers,
        log: (line) => ctx.log.warn(line),
      }),
    );
    if (manifest.roles?.passwords === "included")
      ctx.log.warn(
        "roles.sql carries the roles' password verifiers (SCRAM hashes), as --carry-password-verifiers asked",
      );
    return summary(manifest);
  },
});

const verifyObjectStep = step({
  id: "verify-object",
  dependsOn: [dumpAndUpload],
  title: "Read the backup back and check its size and checksums",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `s3:HeadObject (ChecksumMode) + s3:GetObject (${ctx.outputs.region})`,
      detail: { compare: "size, S3 SHA-256 composite, SHA-256 of every byte read back" },
    },
  ],
  async run(ctx) {
    const m = ctx.result(dumpAndUpload);
    const check = await verifyDatabaseBackup(s3Of(ctx), ctx.outputs.backup.bucketName, m.manifest, true);
    if (!check.ok) throw new Error(`backup ${m.backupId} failed verification: ${check.problems.join("; ")}`);
    return {
      backupId: m.backupId,
      bytes: check.reported.bytes,
      s3Checksum: check.reported.checksum,
      readBackSha256: check.readBackSha256,
    };
  },
});

const testRestore = step({
  id: "test-restore",
  dependsOn: [verifyObjectStep, dumpAndUpload],
  title: "Restore into a scratch database and run the integrity checks",
  describe: (ctx) => [
    {
      kind: "note",
      action: ctx.options.testRestore
        ? "read the dump into a private temp file, proving size and SHA-256; CREATE DATABASE eventchain_verify_<random>; " +
          "CREATE ROLE for the backup's roles the server lacks; pg_restore -j (owners and privileges kept); " +
          "integrity checks; DROP DATABASE and those roles (always)"
        : "skipped (no --test-restore)",
    },
  ],
  async run(ctx) {
    if (!ctx.options.testRestore) return { skipped: "no --test-restore" };
    const m = ctx.result(dumpAndUpload);
    const server = await resolveConnection(ctx, ctx.options.connection, "postgres");
    const binDir = await findPostgresBinDir();
    const report = await ctx.wait("test restore", () =>
      verifyBackup({
        s3: s3Of(ctx),
        bucket: ctx.outputs.backup.bucketName,
        prefix: ctx.outputs.backup.prefixes.database,
        backupId: m.backupId,
        server,
        binDir,
        jobs: ctx.options.jobs,
        deep: false,
      }),
    );
    const failed = report.checks.filter((c) => !c.ok);
    if (failed.length)
      throw new Error(
        `test restore of ${m.backupId} failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      );
    return { backupId: m.backupId, checks: report.checks.length, scratchDropped: report.scratchDropped };
  },
});

const retentionReport = step({
  id: "retention-report",
  dependsOn: [verifyObjectStep],
  title: "Report backups older than the retention objective (the lifecycle rule deletes them)",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `s3:ListObjectsV2 (${ctx.outputs.region})`,
      detail: {
        Prefix: ctx.outputs.backup.prefixes.database,
        retentionDays: ctx.outputs.backup.retentionDays.database,
      },
    },
  ],
  async run(ctx) {
    const days = ctx.outputs.backup.retentionDays.database;
    const all = await listBackups(s3Of(ctx), ctx.outputs.backup.bucketName, ctx.outputs.backup.prefixes.database);
    const old = olderThanRetention(all, days, new Date());
    if (old.length)
      ctx.log.warn(
        `${old.length} backup(s) older than ${days} days are still in the bucket (the lifecycle rule should have expired them): ${old.map((b) => b.backupId).join(", ")}`,
      );
    return { backups: all.length, retentionDays: days, olderThanRetention: old.map((b) => b.backupId), deleted: [] };
  },
});

const steps = [dumpAndUpload, verifyObjectStep, testRestore, retentionReport];

function summary(manifest: DatabaseManifest) {
  return {
    backupId: manifest.backupId,
    key: manifest.object.key,
    bytes: manifest.object.bytes,
    sha256: manifest.object.sha256,
    lsn: manifest.lsn,
    rowCounts: manifest.rowCounts,
    manifest,
  };
}

export const runbook: Runbook<BackupDatabaseOptions> = {
  name: "backup-database",
  summary: "Logical backup of the primary database to the backup bucket, verified by reading it back",
  system: "primary-database",
  options: BACKUP_DATABASE_OPTIONS,
  parseOptions: parseBackupDatabaseOptions,
  steps,
  nextSteps: (ctx) => {
    const m = ctx.peek(dumpAndUpload);
    return m
      ? [
          `Backup ${m.backupId}: s3://${ctx.outputs.backup.bucketName}/${m.key} (${m.bytes} bytes, LSN ${m.lsn}).`,
          `Verify a restore any time: npx zx runbooks/verify-backup.ts --stack ${ctx.outputs.stack} --backup ${m.backupId}`,
        ]
      : [];
  },
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
