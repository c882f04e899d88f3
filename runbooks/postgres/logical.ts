/**
 * Logical backup of a PostgreSQL database to the backup bucket, and its restore.
 *
 * `pg_dump --format=custom` (compressed once, by pg_dump itself; restorable in parallel with
 * `pg_restore -j`) streams straight into a multipart upload: no local temp copy. It runs on a
 * snapshot exported from our own REPEATABLE READ transaction, and the manifest's facts come from
 * that same snapshot: the tables are those the dump's own table of contents lists (read as it
 * streams past), each counted exactly (`ONLY`), so a writer inserting meanwhile or another
 * session's temporary table changes nothing. The roles the database needs travel with it
 * (`roles.sql`) and are recreated before a restore, which by default keeps ownership and
 * privileges. Functions take explicit connections and clients, so the runbooks, the drill and
 * the benchmarks share them.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import type { PgConnection } from "./cluster.ts";
import { exactRowCounts, ownershipDigest, privilegesDigest, tablesByOid } from "./catalog.ts";
import { declaredForeignKeys } from "./integrity.ts";
import { lastLines, libpqEnv, runTool } from "./libpq.ts";
import {
  DATABASE_MANIFEST_VERSION,
  dumpKey,
  manifestKey,
  rolesKey,
  type DatabaseManifest,
  type LoadedDatabaseManifest,
} from "./manifest.ts";
import { canReadPasswords, dumpRoles, neededRoles, recreateRoles, type RecreatedRoles } from "./roles.ts";
import { tocReader } from "./toc.ts";
import { downloadStream, putJson, uploadStream, verifyObject, type ObjectCheck } from "../aws/s3-object.ts";

export { libpqEnv } from "./libpq.ts";

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
  /** Carry the roles the database needs (default true). */
  roles?: boolean;
}

/**
 * Dumps `conn.database` into `s3://bucket/<prefix><id>/<db>.dump` (and its roles into
 * `roles.sql`) and writes the manifest next to them. Returns the manifest.
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
    // As pg_dump: a row-security policy never hides rows from the counts (it is an error instead).
    await client.query("SET LOCAL row_security = off");
    const {
      rows: [info],
    } = await client.query<{ snapshot: string; lsn: string; version: string; num: string }>(
      "SELECT pg_export_snapshot() AS snapshot, pg_current_wal_lsn()::text AS lsn, version() AS version, current_setting('server_version_num') AS num",
    );
    const carryRoles = p.roles ?? true;
    const passwords = carryRoles ? await canReadPasswords(client) : false;
    const foreignKeys = (await declaredForeignKeys(client)).map((fk) => ({
      name: fk.name,
      child: fk.child,
      parent: fk.parent,
      childColumns: fk.childColumns,
      parentColumns: fk.parentColumns,
      matchFull: fk.matchFull ?? false,
      validated: fk.validated ?? true,
    }));
    const ownership = await ownershipDigest(client);
    const privileges = await privilegesDigest(client);
    const needed = carryRoles ? await neededRoles(client, Object.keys(ownership.by)) : [];

    const key = dumpKey(p.prefix, backupId, p.conn.database);
    const dump = runTool(
      join(p.binDir, "pg_dump"),
      ["--format=custom", `--compress=${level}`, `--snapshot=${info!.snapshot}`, "--no-password", p.conn.database],
      libpqEnv(p.conn),
    );
    const toc = tocReader(join(p.binDir, "pg_restore"));
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        toc.feed(chunk);
        done(null, chunk);
      },
      flush(done) {
        toc.end();
        done();
      },
    });
    dump.stdout.pipe(tee);
    const uploading = uploadStream(p.s3, {
      bucket: p.bucket,
      key,
      body: tee,
      kmsKeyId: p.kmsKeyId,
      metadata: { "backup-id": backupId },
    });
    // Counted in the dump's snapshot while the dump streams: exactly the rows it holds.
    const facts = toc.contents.then(async (contents) => {
      // An extension's configuration table has rows in the dump but no TABLE entry of its own.
      const tables = await tablesByOid(client, [...new Set([...contents.tables, ...contents.tableData])]);
      const withData = new Set(contents.tableData);
      const dataTables = tables.filter((t) => withData.has(t.oid));
      return {
        contents,
        tables,
        rowCounts: await exactRowCounts(
          client,
          dataTables.map((t) => t.name),
        ),
      };
    });
    const [object, , dumped] = await Promise.all([uploading, dump.done, facts]);
    await client.query("COMMIT");

    const roles = carryRoles ? await dumpRoles(p.conn, p.binDir, needed, passwords) : null;
    const rolesObject = roles
      ? await uploadStream(p.s3, {
          bucket: p.bucket,
          key: rolesKey(p.prefix, backupId),
          body: Readable.from([Buffer.from(roles.script, "utf8")]),
          contentType: "application/sql",
          kmsKeyId: p.kmsKeyId,
          metadata: { "backup-id": backupId },
        })
      : null;
    const manifest: DatabaseManifest = {
      manifestVersion: DATABASE_MANIFEST_VERSION,
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
      tables: dumped.tables.map((t) => t.name),
      rowCounts: dumped.rowCounts,
      partitionedTables: dumped.tables.filter((t) => t.kind === "partitioned").map((t) => t.name),
      unloggedTables: dumped.tables.filter((t) => t.unlogged).map((t) => t.name),
      largeObjects: dumped.contents.largeObjects,
      foreignKeys,
      roles:
        roles && rolesObject ? { ...objectFacts(rolesObject), names: roles.names, passwords: roles.passwords } : null,
      ownership,
      privileges,
      object: objectFacts(object),
    };
    await putJson(p.s3, p.bucket, manifestKey(p.prefix, backupId), manifest, p.kmsKeyId);
    return manifest;
  } finally {
    await client.end();
  }
}

const objectFacts = (o: Awaited<ReturnType<typeof uploadStream>>) => ({
  key: o.key,
  bytes: o.bytes,
  sha256: o.sha256,
  partSha256: o.partSha256,
  s3Checksum: o.s3Checksum,
  ...(o.versionId ? { versionId: o.versionId } : {}),
});

/** Reads the dump back and checks size and checksums against the manifest. */
export function verifyDatabaseBackup(
  s3: S3Client,
  bucket: string,
  manifest: Pick<LoadedDatabaseManifest, "object">,
  deep = true,
): Promise<ObjectCheck> {
  return verifyObject(s3, { bucket, ...manifest.object }, deep);
}

/** What a restore keeps; everything true by default. */
export interface KeepOptions {
  /** Give each object its owner (false: `--no-owner`, everything owned by the restoring user). */
  ownership?: boolean;
  /** Restore GRANTs, REVOKEs and default privileges (false: `--no-privileges`: they are lost). */
  privileges?: boolean;
}

export interface RestoreParams extends KeepOptions {
  s3: S3Client;
  bucket: string;
  manifest: LoadedDatabaseManifest;
  /** Where to restore: an existing, empty database. */
  target: PgConnection;
  binDir: string;
  /** Parallel restore jobs; 1 streams from S3 into pg_restore with no temp file. Default 2. */
  jobs?: number;
  /**
   * Go on past an error and report them all (a verification: every object that can be restored
   * is, so every check still means something). Default false: stop at the first error.
   */
  continueOnError?: boolean;
}

/** Pure: pg_restore's options for what to keep. */
export function restoreArgs(database: string, keep: KeepOptions, continueOnError = false): string[] {
  return [
    ...(continueOnError ? [] : ["--exit-on-error"]),
    "--no-password",
    `--dbname=${database}`,
    ...(keep.ownership === false ? ["--no-owner"] : []),
    ...(keep.privileges === false ? ["--no-privileges"] : []),
  ];
}

/** Pure: pg_restore's error, with what to do when the restoring user cannot give objects their owners. */
export function explainRestoreError(message: string, keep: KeepOptions): string {
  if (
    keep.ownership !== false &&
    /must be (a )?member of role|must be owner|permission denied to (create|set) role/i.test(message)
  )
    return `${message}. The restoring user cannot give objects their owners: restore as a superuser (or a member of every owning role), or pass --no-owner for a copy owned by the restoring user (ownership is then lost)`;
  return message;
}

/** Pure: pg_restore's errors (the ERROR lines, at most 10 shown; never the DETAIL lines, which quote rows), on one line. */
export function restoreErrors(stderr: string): string {
  const errors = stderr
    .split("\n")
    .filter((l) => /ERROR: /.test(l))
    .map((l) => l.replace(/^.*?ERROR: +/, ""));
  if (!errors.length) return lastLines(stderr);
  const shown = errors.slice(0, 10).join(" | ");
  return `${errors.length} error(s): ${shown}${errors.length > 10 ? ` | … ${errors.length - 10} more` : ""}`;
}

/** The backup's roles script, read back and checked against the manifest's SHA-256. */
async function readRoles(p: RestoreParams): Promise<string> {
  const roles = p.manifest.roles!;
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(p.s3, p.bucket, roles.key)) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const sha256 = createHash("sha256").update(body).digest("hex");
  if (sha256 !== roles.sha256)
    throw new Error(
      `roles of backup ${p.manifest.backupId} (s3://${p.bucket}/${roles.key}) have SHA-256 ${sha256}, expected ${roles.sha256}: not restoring from a damaged roles script`,
    );
  return body.toString("utf8");
}

/**
 * Restores a logical backup into `target.database`: first the roles it carries that the server
 * lacks (see roles.ts), then `pg_restore`, keeping ownership and privileges unless told not to.
 * With `jobs > 1` the dump is first downloaded to a private temp file (pg_restore -j needs to
 * seek), removed afterwards.
 */
export async function restoreDatabase(p: RestoreParams): Promise<{ seconds: number; roles: RecreatedRoles | null }> {
  const jobs = p.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw new Error(`invalid jobs ${String(jobs)}: expected an integer 1-64`);
  const started = Date.now();
  let roles: RecreatedRoles | null = null;
  if (p.manifest.roles) {
    const script = await readRoles(p);
    const admin = new pg.Client(p.target);
    await admin.connect();
    try {
      roles = await recreateRoles(admin, script);
    } finally {
      await admin.end();
    }
  }
  const keep: KeepOptions = { ownership: p.ownership, privileges: p.privileges };
  const pgRestore = join(p.binDir, "pg_restore");
  const common = restoreArgs(p.target.database, keep, p.continueOnError);
  const body = await downloadStream(p.s3, p.bucket, p.manifest.object.key);
  const failed = (detail: string) =>
    Object.assign(new Error(explainRestoreError(`pg_restore into ${p.target.database} failed (${detail})`, keep)), {
      roles,
    });
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
    if (code !== 0) throw failed(`exit ${code}: ${restoreErrors(stderr)}`);
  } else {
    const dir = await mkdtemp(join(tmpdir(), "eventchain-restore-"));
    try {
      const file = join(dir, "backup.dump");
      await pipeline(body, createWriteStream(file, { mode: 0o600 }));
      const r = runTool(pgRestore, [...common, `--jobs=${jobs}`, file], libpqEnv(p.target));
      r.stdout.resume();
      await r.done.catch(() => {
        throw failed(restoreErrors(r.stderr()));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { seconds: (Date.now() - started) / 1000, roles };
}
