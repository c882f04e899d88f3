/**
 * Verification of a logical backup: read the object back (size, checksums), restore it into a
 * scratch database, run the integrity checks, and always drop the scratch database.
 */
import { randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import type { PgConnection } from "./cluster.ts";
import { buildVerificationReport, checkIntegrity, type Check, type VerificationReport } from "./integrity.ts";
import { loadDatabaseManifest } from "./manifest.ts";
import { restoreDatabase, verifyDatabaseBackup } from "./logical.ts";

export interface VerifyBackupParams {
  s3: S3Client;
  bucket: string;
  prefix: string;
  /** A backup id or "latest". */
  backupId: string;
  /** Admin connection to the server that hosts the scratch database (its `database` is where we connect to create it). */
  server: PgConnection;
  binDir: string;
  /** Parallel restore jobs (default 2). */
  jobs?: number;
  /** Read every byte back and hash it (default true). */
  deep?: boolean;
  /** Called with each phase's name, for progress. */
  progress?: (phase: string) => void;
}

/** Pure: a scratch database name that cannot collide with a real one. */
export function scratchDatabaseName(): string {
  return `eventchain_verify_${randomBytes(5).toString("hex")}`;
}

export async function verifyBackup(
  p: VerifyBackupParams,
): Promise<VerificationReport & { scratchDatabase: string; scratchDropped: boolean }> {
  const startedAt = new Date().toISOString();
  const checks: Check[] = [];
  const progress = p.progress ?? (() => {});
  progress("manifest");
  const manifest = await loadDatabaseManifest(p.s3, p.bucket, p.prefix, p.backupId);
  progress("object");
  const object = await verifyDatabaseBackup(p.s3, p.bucket, manifest, p.deep ?? true);
  checks.push({
    name: `object s3://${p.bucket}/${manifest.object.key}`,
    kind: "object",
    ok: object.ok,
    detail: object.ok
      ? `${manifest.object.bytes} bytes, SHA-256 and S3 checksum match the manifest`
      : object.problems.join("; "),
  });
  const scratch = scratchDatabaseName();
  let dropped = false;
  if (object.ok) {
    const admin = new pg.Client(p.server);
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${scratch}`);
      try {
        progress("restore");
        try {
          const r = await restoreDatabase({
            s3: p.s3,
            bucket: p.bucket,
            manifest,
            target: { ...p.server, database: scratch },
            binDir: p.binDir,
            jobs: p.jobs,
          });
          checks.push({
            name: "restore into a scratch database",
            kind: "restore",
            ok: true,
            detail: `pg_restore finished in ${r.seconds.toFixed(1)} s`,
          });
        } catch (error) {
          checks.push({
            name: "restore into a scratch database",
            kind: "restore",
            ok: false,
            detail: (error as Error).message,
          });
        }
        progress("integrity");
        const db = new pg.Client({ ...p.server, database: scratch });
        await db.connect();
        try {
          checks.push(
            ...(await checkIntegrity(db, {
              expectedRowCounts: manifest.rowCounts,
              ...sideBySide({ ...p.server, database: scratch }),
            })),
          );
        } finally {
          await db.end();
        }
      } finally {
        progress("cleanup");
        await admin.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
        const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [scratch]);
        dropped = rowCount === 0;
      }
    } finally {
      await admin.end();
    }
  } else {
    dropped = true; // never created
  }
  const report = buildVerificationReport({
    backupId: manifest.backupId,
    database: scratch,
    startedAt,
    finishedAt: new Date().toISOString(),
    checks,
  });
  return { ...report, scratchDatabase: scratch, scratchDropped: dropped };
}

/** The integrity checks run two at a time (both cores of a small server), on a second connection. */
function sideBySide(conn: pg.ClientConfig): { connect: () => Promise<pg.Client>; concurrency: number } {
  return {
    concurrency: 2,
    connect: async () => {
      const c = new pg.Client(conn);
      await c.connect();
      return c;
    },
  };
}

/** Integrity checks on a live (e.g. just recovered) database, no restore. */
export async function verifyLiveDatabase(
  conn: PgConnection,
  expectedRowCounts?: Record<string, number>,
): Promise<VerificationReport> {
  const startedAt = new Date().toISOString();
  const db = new pg.Client(conn);
  await db.connect();
  try {
    const checks = await checkIntegrity(db, { expectedRowCounts, ...sideBySide(conn) });
    return buildVerificationReport({
      backupId: null,
      database: conn.database,
      startedAt,
      finishedAt: new Date().toISOString(),
      checks,
    });
  } finally {
    await db.end();
  }
}
