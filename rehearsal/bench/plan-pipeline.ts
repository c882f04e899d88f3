/**
 * The baseline: the plan's logical backup and restore, exactly as its scripts do them
 * (database-backup.sh and dr-test.sh "database"): `pg_dump --format=custom` to a file, `gzip`
 * of that already compressed file, `aws s3 cp` up, `aws s3 ls` as the "verify"; then
 * `aws s3 cp` down, `createdb`, `gunzip -c | pg_restore` single-threaded. The AWS CLI talks to
 * the local emulator only; the credentials below are the emulator's placeholders, set for the
 * child processes alone.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { $ } from "zx";
import type { Case } from "./harness.ts";
import { timed } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import { DB_NAME } from "./dataset.ts";
import { dropDatabase } from "../stand-ins/postgres.ts";

export const PLAN_BACKUP = "plan.backup";
export const PLAN_RESTORE = "plan.restore";
export const PLAN_SCRATCH_DB = "eventchain_dr_test";

export interface S3Target {
  /** moto endpoint, e.g. http://127.0.0.1:41234 */
  endpoint: string;
  bucket: string;
}

/** Environment for the AWS CLI against the local emulator (placeholder credentials, no config files). */
export function emulatorCliEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
}

export function planCases(d: Dataset, s3: S3Target, workDir: string): Case[] {
  const dumpFile = join(workDir, "eventchain_backup.sql");
  const gzFile = `${dumpFile}.gz`;
  const key = `s3://${s3.bucket}/database/full/eventchain_backup.sql.gz`;
  const env = { ...process.env, ...d.server.env(DB_NAME), ...emulatorCliEnv() };
  const sh = $({ quiet: true, env });
  const aws = ["aws", "--endpoint-url", s3.endpoint];
  const bin = (name: string) => join(d.server.binDir, name);
  return [
    {
      id: PLAN_BACKUP,
      label: "plan: pg_dump -Fc > file; gzip; aws s3 cp; aws s3 ls",
      prepare: () => rm(gzFile, { force: true }),
      run: async () => {
        const dump = await timed(
          () =>
            sh`${bin("pg_dump")} -d ${DB_NAME} --verbose --clean --no-owner --no-privileges --format=custom > ${dumpFile}`,
        );
        const gzip = await timed(() => sh`gzip ${dumpFile}`);
        const upload = await timed(() => sh`${aws} s3 cp ${gzFile} ${key} --only-show-errors`);
        const verify = await timed(() => sh`${aws} s3 ls ${key}`);
        await rm(gzFile, { force: true });
        return {
          bytes: d.dbBytes,
          phases: { dump: dump.seconds, gzip: gzip.seconds, upload: upload.seconds, "ls-verify": verify.seconds },
        };
      },
      cleanup: async () => {
        await rm(dumpFile, { force: true });
        await rm(gzFile, { force: true });
      },
    },
    {
      id: PLAN_RESTORE,
      label: "plan: aws s3 cp; createdb; gunzip -c | pg_restore",
      prepare: async () => {
        await dropDatabase(d.server, PLAN_SCRATCH_DB);
        await rm(gzFile, { force: true });
      },
      run: async () => {
        const download = await timed(() => sh`${aws} s3 cp ${key} ${gzFile} --only-show-errors`);
        const restore = await timed(async () => {
          await sh`${bin("createdb")} ${PLAN_SCRATCH_DB}`;
          await sh`gunzip -c ${gzFile} | ${bin("pg_restore")} -d ${PLAN_SCRATCH_DB} --verbose`;
        });
        return { bytes: d.dbBytes, phases: { download: download.seconds, "gunzip|pg_restore": restore.seconds } };
      },
      cleanup: async () => {
        await rm(gzFile, { force: true });
        await dropDatabase(d.server, PLAN_SCRATCH_DB);
      },
    },
  ];
}
