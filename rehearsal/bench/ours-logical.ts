/**
 * Our logical path, as the backup-database and verify-backup runbooks run it (developer C's
 * runbooks/postgres/logical.ts): `pg_dump --format=custom` compressed once, streamed into a
 * multipart upload with SHA-256 per part, manifest written, then the object read back and its
 * checksums compared (the "verified" in "verified backup"); restore with `pg_restore -j 2`.
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { Case } from "./harness.ts";
import { timed } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import { DB_NAME } from "./dataset.ts";
import { backupDatabase, restoreDatabase, verifyDatabaseBackup } from "../../runbooks/postgres/logical.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import type { DatabaseManifest } from "../../runbooks/postgres/manifest.ts";
import { dropDatabase } from "../stand-ins/postgres.ts";

export const OURS_BACKUP = "ours.backup";
export const OURS_RESTORE = "ours.restore";
export const OURS_SCRATCH_DB = "eventchain_restore_bench";

export function oursLogicalCases(
  d: Dataset,
  s3: { endpoint: string; bucket: string },
  options: { jobs?: number } = {},
): Case[] & { close?: () => void } {
  const client: S3Client = new BackupS3Client({ region: "us-east-1", endpoint: s3.endpoint });
  let manifest: DatabaseManifest | undefined;
  let n = 0;
  const cases: Case[] & { close?: () => void } = [
    {
      id: OURS_BACKUP,
      label: "ours: pg_dump -Fc (once) → streamed multipart upload + SHA-256, read back and verified",
      run: async () => {
        const backup = await timed(() =>
          backupDatabase({
            conn: d.server.connection(DB_NAME),
            binDir: d.server.binDir,
            s3: client,
            bucket: s3.bucket,
            prefix: "database/",
            backupId: `bench-${process.pid}-${++n}`,
          }),
        );
        const verify = await timed(() => verifyDatabaseBackup(client, s3.bucket, backup.value, true));
        if (!verify.value.ok) throw new Error(`our backup did not verify: ${verify.value.problems.join("; ")}`);
        manifest = backup.value;
        return {
          bytes: d.dbBytes,
          phases: { "dump+upload": backup.seconds, "read back + verify": verify.seconds },
          metrics: { objectBytes: backup.value.object.bytes },
        };
      },
    },
    {
      id: OURS_RESTORE,
      label: `ours: download, pg_restore -j ${options.jobs ?? 2}`,
      // restoreDatabase creates the database itself (restoring into a new one, then renaming it).
      prepare: () => dropDatabase(d.server, OURS_SCRATCH_DB),
      run: async () => {
        if (!manifest) throw new Error("no backup of ours to restore: the backup case failed");
        await restoreDatabase({
          s3: client,
          bucket: s3.bucket,
          manifest,
          target: d.server.connection(OURS_SCRATCH_DB),
          binDir: d.server.binDir,
          jobs: options.jobs ?? 2,
        });
        return { bytes: d.dbBytes };
      },
      cleanup: () => dropDatabase(d.server, OURS_SCRATCH_DB),
    },
  ];
  cases.close = () => client.destroy();
  return cases;
}
