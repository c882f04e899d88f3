/**
 * Verify a database backup (the plan's test-backup-integrity.sh, fixed): read the backup back
 * and check its size and checksums, restore it into a scratch database, check the plan's tables
 * are present and non-empty, row counts against the manifest, every declared foreign key and
 * the plan's three checks with NULL-safe anti-joins; JSON + Markdown report; exit 1 on any
 * failure. The scratch database is dropped whatever happens. With `--database <name>` it checks
 * a live database instead (e.g. one a point-in-time restore just recovered), without a restore.
 *
 *   npx tsx runbooks/verify-backup.ts --stack prod --connection env --backup latest
 *   npx tsx runbooks/verify-backup.ts --outputs local.json --connection env --database eventchain
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { snsSinks } from "./aws/notify.ts";
import { positiveInt } from "./lib/options.ts";
import { parseConnectionMode, resolveConnection, type ConnectionMode } from "./postgres/connection.ts";
import { renderVerificationMarkdown, type VerificationReport } from "./postgres/integrity.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { verifyBackup, verifyLiveDatabase } from "./postgres/verify.ts";
import { assertIdentifier, findPostgresBinDir } from "./postgres/cluster.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface VerifyBackupOptions {
  backup: string;
  database: string | undefined;
  connection: ConnectionMode;
  jobs: number;
  reportDir: string;
  deep: boolean;
}

export function parseVerifyOptions(raw: RawOptions): VerifyBackupOptions {
  const backup = typeof raw.backup === "string" ? raw.backup : "latest";
  if (backup !== "latest" && !/^\d{8}T\d{6}Z$/.test(backup))
    throw new BadInputError(`invalid --backup "${backup}": expected "latest" or a backup id like 20260115T143000Z`);
  const database = typeof raw.database === "string" ? raw.database : undefined;
  if (database !== undefined) {
    try {
      assertIdentifier(database, "--database");
    } catch (e) {
      throw new BadInputError((e as Error).message);
    }
  }
  if (database !== undefined && typeof raw.backup === "string")
    throw new BadInputError(
      "--database and --backup cannot be combined: --database checks a live database, --backup restores a backup",
    );
  return {
    backup,
    database,
    connection: parseConnectionMode(raw, "env"),
    jobs: positiveInt(raw, "jobs", 2, 64),
    reportDir: resolve(typeof raw["report-dir"] === "string" ? raw["report-dir"] : ".runs/verifications"),
    deep: raw["no-read-back"] !== true,
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
            action: `integrity checks on the live database ${ctx.options.database} (tables, declared foreign keys, the plan's three checks)`,
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
            action: `CREATE DATABASE eventchain_verify_<random>; pg_restore --jobs=${ctx.options.jobs}; integrity checks; DROP DATABASE eventchain_verify_<random> (always)`,
            detail: { connection: ctx.options.connection },
          },
        ],
  async run(ctx) {
    let report: VerificationReport & { scratchDropped?: boolean };
    if (ctx.options.database) {
      const conn = await resolveConnection(ctx, ctx.options.connection, ctx.options.database);
      report = await ctx.wait("integrity checks", () => verifyLiveDatabase(conn));
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
          progress: (phase) => ctx.log.info(`verify: ${phase}`),
        }),
      );
      if (report.scratchDropped === false)
        ctx.log.warn(`scratch database ${report.database} could not be dropped: drop it by hand`);
    }
    const files = writeReports(ctx, report);
    const failed = report.checks.filter((c) => !c.ok);
    ctx.log.info(`verification report: ${files.markdown}`);
    if (failed.length)
      throw new Error(
        `${failed.length} of ${report.checks.length} checks failed (report ${files.markdown}): ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      );
    return {
      ok: true,
      backupId: report.backupId,
      database: report.database,
      checks: report.checks.length,
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
  options: {
    backup: { type: "string", description: 'Backup id (e.g. 20260115T143000Z) or "latest"', default: "latest" },
    database: { type: "string", description: "Check this live database instead of restoring a backup" },
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
  },
  parseOptions: parseVerifyOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
