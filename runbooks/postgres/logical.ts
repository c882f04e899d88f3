/**
 * Logical backup of a PostgreSQL database to the backup bucket, and its restore.
 *
 * `pg_dump --format=custom` (compressed once, by pg_dump itself; restorable in parallel with
 * `pg_restore -j`) streams straight into a multipart upload: no local temp copy. The dump runs
 * on a snapshot exported from our own REPEATABLE READ transaction, so the row counts in the
 * manifest are exactly the rows in the dump. Functions take explicit connections and clients,
 * so the runbooks, the drill and the benchmarks share them.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import type { PgConnection } from "./cluster.ts";
import { manifestKey, dumpKey, type DatabaseManifest, MANIFEST_VERSION } from "./manifest.ts";
import { downloadStream, putJson, uploadStream, verifyObject, type ObjectCheck } from "../aws/s3-object.ts";

/** libpq environment for a connection: the password never appears in argv. */
export function libpqEnv(conn: PgConnection): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.user,
    PGPASSWORD: conn.password,
    PGDATABASE: conn.database,
    PGAPPNAME: "eventchain-dr",
    // A connection resolved from the stack carries TLS settings: libpq verifies the server too.
    ...("ssl" in conn && conn.ssl ? { PGSSLMODE: "verify-full" } : {}),
  };
}

/** Backup ids are UTC timestamps: sortable, unique per second, safe in keys. */
export function newBackupId(at = new Date()): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

export interface LogicalBackupParams {
  conn: PgConnection;
  binDir: string;
  s3: S3Client;
  bucket: string;
  /** Key prefix of database backups, e.g. `database/`. */
  prefix: string;
  kmsKeyId?: string;
  backupId?: string;
  /** pg_dump compression level 0-9; default 1 (fast; the custom format compresses each table once). */
  compressLevel?: number;
}

/** Runs a process, collecting stderr (for messages); stdout is returned as a stream. */
function run(bin: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${bin.split("/").pop()} exited with ${code ?? signal}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
            ),
          ),
    );
  });
  return { child, stdout: child.stdout, done };
}

/** Exact row counts of every user table, in the given transaction. */
export async function tableRowCounts(client: pg.Client): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${name}`);
    counts[name.replace(/^public\./, "")] = Number(rows[0]!.n);
  }
  return counts;
}

/**
 * Dumps `conn.database` into `s3://bucket/<prefix><id>/<db>.dump` and writes the manifest next
 * to it. Returns the manifest (object size, SHA-256 per part, row counts, versions, LSN, times).
 */
export async function backupDatabase(p: LogicalBackupParams): Promise<DatabaseManifest> {
  const level = p.compressLevel ?? 1;
  if (!Number.isInteger(level) || level < 0 || level > 9)
    throw new Error(`invalid compression level ${String(level)}: expected an integer 0-9`);
  const backupId = p.backupId ?? newBackupId();
  const startedAt = new Date();
  const client = new pg.Client(p.conn);
  await client.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const {
      rows: [info],
    } = await client.query<{ snapshot: string; lsn: string; version: string; num: string }>(
      "SELECT pg_export_snapshot() AS snapshot, pg_current_wal_lsn()::text AS lsn, version() AS version, current_setting('server_version_num') AS num",
    );
    const rowCounts = await tableRowCounts(client);
    const key = dumpKey(p.prefix, backupId, p.conn.database);
    const dump = run(
      join(p.binDir, "pg_dump"),
      ["--format=custom", `--compress=${level}`, `--snapshot=${info!.snapshot}`, "--no-password", p.conn.database],
      libpqEnv(p.conn),
    );
    const [object] = await Promise.all([
      uploadStream(p.s3, {
        bucket: p.bucket,
        key,
        body: dump.stdout,
        kmsKeyId: p.kmsKeyId,
        metadata: { "backup-id": backupId },
      }),
      dump.done,
    ]);
    await client.query("COMMIT");
    const manifest: DatabaseManifest = {
      manifestVersion: MANIFEST_VERSION,
      kind: "database",
      backupId,
      database: p.conn.database,
      format: "pg_dump-custom",
      compression: `pg_dump custom format, zlib level ${level} (compressed once)`,
      serverVersion: info!.version,
      serverVersionNum: Number(info!.num),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      lsn: info!.lsn,
      rowCounts,
      object: {
        key,
        bytes: object.bytes,
        sha256: object.sha256,
        partSha256: object.partSha256,
        s3Checksum: object.s3Checksum,
        ...(object.versionId ? { versionId: object.versionId } : {}),
      },
    };
    await putJson(p.s3, p.bucket, manifestKey(p.prefix, backupId), manifest, p.kmsKeyId);
    return manifest;
  } finally {
    await client.end();
  }
}

/** Reads the dump back and checks size and checksums against the manifest. */
export function verifyDatabaseBackup(
  s3: S3Client,
  bucket: string,
  manifest: DatabaseManifest,
  deep = true,
): Promise<ObjectCheck> {
  return verifyObject(s3, { bucket, ...manifest.object }, deep);
}

export interface RestoreParams {
  s3: S3Client;
  bucket: string;
  manifest: DatabaseManifest;
  /** Where to restore: an existing, empty database. */
  target: PgConnection;
  binDir: string;
  /** Parallel restore jobs; 1 streams from S3 into pg_restore with no temp file. Default 2. */
  jobs?: number;
}

/**
 * Restores a logical backup into `target.database`. With `jobs > 1` the dump is first
 * downloaded to a private temp file (pg_restore -j needs to seek), removed afterwards.
 */
export async function restoreDatabase(p: RestoreParams): Promise<{ seconds: number }> {
  const jobs = p.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw new Error(`invalid jobs ${String(jobs)}: expected an integer 1-64`);
  const started = Date.now();
  const pgRestore = join(p.binDir, "pg_restore");
  const common = ["--no-owner", "--no-privileges", "--exit-on-error", "--no-password", `--dbname=${p.target.database}`];
  const body = await downloadStream(p.s3, p.bucket, p.manifest.object.key);
  if (jobs === 1) {
    const child = spawn(pgRestore, common, { env: libpqEnv(p.target), stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    const closed = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    await pipeline(body, child.stdin).catch(() => undefined);
    const code = await closed;
    if (code !== 0)
      throw new Error(
        `pg_restore into ${p.target.database} failed (exit ${code}): ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
      );
  } else {
    const dir = await mkdtemp(join(tmpdir(), "eventchain-restore-"));
    try {
      const file = join(dir, "backup.dump");
      await pipeline(body, createWriteStream(file, { mode: 0o600 }));
      const r = run(pgRestore, [...common, `--jobs=${jobs}`, file], libpqEnv(p.target));
      r.stdout.resume();
      await r.done.catch((e: Error) => {
        throw new Error(`pg_restore into ${p.target.database} failed: ${e.message}`);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { seconds: (Date.now() - started) / 1000 };
}
