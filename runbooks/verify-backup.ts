/**
 * Verify a database backup (the plan's test-backup-integrity.sh, fixed, for any database): read
 * the backup back and check its size and checksums, restore it into a scratch database (the
 * roles it needs first; ownership and privileges kept unless --no-owner / --no-privileges), and
 * check what the manifest says: every dumped table, schema-qualified, with its exact row count;
 * every declared foreign key once, with NULL-safe anti-joins; owners and privileges; the
 * EventChain checks where those tables exist (--profile); JSON + Markdown report naming the
 * UNLOGGED tables; exit 1 on any failure. The scratch database, and any role it created, is
 * dropped whatever happens. With `--database <name>` it checks a live database instead (e.g. one
 * a point-in-time restore just recovered), without a restore; with `--backup` too, against that
 * backup's manifest (a database restored by hand).
 *
 *   npx zx runbooks/verify-backup.ts --stack prod --connection env --backup latest
 *   npx zx runbooks/verify-backup.ts --outputs local.json --connection env --database eventchain
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { positiveInt, stringOption, withDefaults } from "./lib/options.ts";
import { parseConnectionMode, resolveConnection, type ConnectionMode } from "./postgres/connection.ts";
import { renderVerificationMarkdown, type VerificationReport } from "./postgres/integrity.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { verifyBackup, verifyLiveDatabase } from "./postgres/verify.ts";
import { loadDatabaseManifest } from "./postgres/manifest.ts";
import { parseProfileOption, PROFILE_CHOICES } from "./postgres/profiles.ts";
import { assertIdentifier, findPostgresBinDir } from "./postgres/cluster.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type OptionSpec, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface VerifyBackupOptions {
  backup: string;
  /** --backup given explicitly (with --database: check the live database against it). */
  backupGiven: boolean;
  database: string | undefined;
  connection: ConnectionMode;
  jobs: number;
  reportDir: string;
  deep: boolean;
  ownership: boolean;
  privileges: boolean;
  profile: string;
}

export const VERIFY_BACKUP_OPTIONS = {
  backup: {
    type: "string",
    description: 'Backup id (e.g. 20260115T143000Z) or "latest"; with --database, the manifest to check it against',
    default: "latest",
  },
  database: { type: "string", description: "Check this live database instead of restoring a backup" },
  profile: {
    type: "string",
    description: `Application checks: ${PROFILE_CHOICES}`,
    default: "auto",
  },
  "no-owner": {
    type: "boolean",
    description: "Restore without owners (pg_restore --no-owner): a portable copy, ownership lost",
  },
  "no-privileges": {
    type: "boolean",
    description: "Restore without GRANTs, REVOKEs and default privileges (pg_restore --no-privileges): they are lost",
  },
  connection: {
    type: "string",
    description: "Server for the scratch database: env (libpq PGHOST…) or outputs (the stack's database)",
    default: "env",
  },
  jobs: { type: "string", description: "Parallel pg_restore jobs", default: "2" },
  "report-dir": {
    type: "string",
    description: "Where the JSON and Markdown reports go",
    default: ".runs/verifications",
  },
  "no-read-back": {
    type: "boolean",
    description: "Check size and S3 checksum only, without hashing every byte read back",
  },
} satisfies Record<string, OptionSpec>;

export function parseVerifyOptions(raw: RawOptions): VerifyBackupOptions {
  const options = withDefaults(VERIFY_BACKUP_OPTIONS, raw);
  const backupExpected = '"latest" or a backup id like 20260115T143000Z';
  const backup = stringOption(options, "backup", backupExpected);
  if (backup !== "latest" && !/^\d{8}T\d{6}Z$/.test(backup))
    throw new BadInputError(`invalid --backup "${backup}": expected ${backupExpected}`);
  const database = typeof options.database === "string" ? options.database : undefined;
  if (database !== undefined) {
    try {
      assertIdentifier(database, "--database");
    } catch (e) {
      throw new BadInputError((e as Error).message);
    }
  }
  const profile = stringOption(options, "profile", PROFILE_CHOICES);
  try {
    parseProfileOption(profile);
  } catch (e) {
    throw new BadInputError((e as Error).message);
  }
  return {
    backup,
    backupGiven: typeof raw.backup === "string",
    database,
    connection: parseConnectionMode(options),
    jobs: positiveInt(options, "jobs", 64),
    reportDir: resolve(stringOption(options, "report-dir", "a directory")),
    deep: options["no-read-back"] !== true,
    ownership: options["no-owner"] !== true,
    privileges: options["no-privileges"] !== true,
    profile,
  };
}

type Ctx = RunContext<VerifyBackupOptions>;

function writeReports(ctx: Ctx, report: VerificationReport): { json: string; markdown: string } {
  mkdirSync(ctx.options.reportDir, { recursive: true, mode: 0o700 });
  const json = join(ctx.options.reportDir, `${ctx.runId}.json`);
  const markdown = join(ctx.options.reportDir, `${ctx.runId}.md`);
  writeFileSync(json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(markdown, renderVerificationMarkdown(report), { mode: 0o600 });
  return { json, markdown };
}

const step = stepFor<VerifyBackupOptions>();

export const verifyStep = step({
  id: "verify",
  dependsOn: [],
  title: "Verify the backup (object, scratch restore, integrity) and write the report",
  milestone: "health_verified",
  describe: (ctx) =>
    ctx.options.database
      ? [
          {
            kind: "note",
            action:
              `integrity checks on the live database ${ctx.options.database} ` +
              `(${ctx.options.backupGiven ? `tables and row counts of backup ${ctx.options.backup}` : "every table read"}, ` +
              `every declared foreign key, profile ${ctx.options.profile})`,
          },
        ]
      : [
          {
            kind: "aws",
            action: `s3:GetObject manifest + s3:HeadObject + s3:GetObject dump (${ctx.outputs.region})`,
            detail: {
              Bucket: ctx.outputs.backup.bucketName,
              Prefix: ctx.outputs.backup.prefixes.database,
              backup: ctx.options.backup,
            },
          },
          {
            kind: "command",
            action:
              `CREATE DATABASE eventchain_verify_<random>; CREATE ROLE for each role of the backup the server ` +
              `lacks; pg_restore ` +
              `--jobs=${ctx.options.jobs}${ctx.options.ownership ? "" : " --no-owner"}${ctx.options.privileges ? "" : " --no-privileges"}; ` +
              `integrity checks; DROP DATABASE eventchain_verify_<random> and the roles created (always)`,
            detail: { connection: ctx.options.connection },
          },
        ],
  async run(ctx) {
    let report: VerificationReport & { scratchDropped?: boolean; rolesLeft?: string[] };
    const profile = parseProfileOption(ctx.options.profile);
    const keep = { ownership: ctx.options.ownership, privileges: ctx.options.privileges };
    if (ctx.options.database) {
      const conn = await resolveConnection(ctx, ctx.options.connection, ctx.options.database);
      const manifest = ctx.options.backupGiven
        ? await loadDatabaseManifest(
            ctx.aws(BackupS3Client, ctx.outputs.region),
            ctx.outputs.backup.bucketName,
            ctx.outputs.backup.prefixes.database,
            ctx.options.backup,
          )
        : undefined;
      report = await ctx.wait("integrity checks", () => verifyLiveDatabase(conn, { manifest, profile, keep }));
    } else {
      const server = await resolveConnection(ctx, ctx.options.connection, "postgres");
      const binDir = await findPostgresBinDir();
      report = await ctx.wait("verify backup", () =>
        verifyBackup({
          s3: ctx.aws(BackupS3Client, ctx.outputs.region),
          bucket: ctx.outputs.backup.bucketName,
          prefix: ctx.outputs.backup.prefixes.database,
          backupId: ctx.options.backup,
          server,
          binDir,
          jobs: ctx.options.jobs,
          deep: ctx.options.deep,
          profile,
          ...keep,
          progress: (phase) => ctx.log.info(`verify: ${phase}`),
        }),
      );
      if (report.scratchDropped === false)
        ctx.log.warn(`scratch database ${report.database} could not be dropped: drop it by hand`);
      if (report.rolesLeft?.length)
        ctx.log.warn(`roles created for the restore could not be dropped: ${report.rolesLeft.join(", ")}`);
    }
    const files = writeReports(ctx, report);
    const failed = report.checks.filter((c) => !c.ok);
    ctx.log.info(`verification report: ${files.markdown}`);
    if (report.unloggedTables.length)
      ctx.log.info(`UNLOGGED tables (empty after a physical restore): ${report.unloggedTables.join(", ")}`);
    if (failed.length)
      throw new Error(
        `${failed.length} of ${report.checks.length} checks failed (report ${files.markdown}): ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      );
    return {
      ok: true,
      backupId: report.backupId,
      database: report.database,
      checks: report.checks.length,
      unloggedTables: report.unloggedTables,
      report: files.json,
      markdown: files.markdown,
    };
  },
});

const steps = [verifyStep];

export const runbook: Runbook<VerifyBackupOptions> = {
  name: "verify-backup",
  summary: "Restore a database backup into a scratch database and check its integrity (or check a live database)",
  system: "primary-database",
  options: VERIFY_BACKUP_OPTIONS,
  parseOptions: parseVerifyOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
