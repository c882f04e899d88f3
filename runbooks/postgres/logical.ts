/**
 * Logical backup of a PostgreSQL database to the backup bucket, and its restore.
 *
 * `pg_dump --format=custom` (compressed once, by pg_dump itself; restorable in parallel with
 * `pg_restore -j`) streams straight into a multipart upload: no local temp copy. It runs on a
 * snapshot exported from our own REPEATABLE READ transaction, started the moment the snapshot
 * exists; every fact of the manifest is read in that same snapshot once pg_dump has its locks
 * (its table of contents streaming past says so), so our reads never widen the window in which
 * another session's DDL can fail the dump. The tables are those the dump's TOC lists, each
 * counted exactly (`ONLY`). A dump that still fails because the database changed under it (a
 * table dropped before pg_dump could lock it: pg_dump alone fails then too) is retried once,
 * with the reason logged; a failed backup leaves nothing under its prefix and says what it
 * removed. The roles the database needs travel with it (`roles.sql`, see roles.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import { assertIdentifier, type PgConnection } from "./cluster.ts";
import { exactRowCounts, largeObjectFacts, ownershipDigest, privilegesDigest, tablesByOid } from "./catalog.ts";
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
import { removeFailedBackup } from "./backup-cleanup.ts";
import {
  borrowOwners,
  canReadPasswords,
  dropRoles,
  dumpRoles,
  neededRoles,
  recreateRoles,
  revokeMemberships,
  type LeftOut,
  type RecreatedRoles,
} from "./roles.ts";
import { restoreLists, tocReader } from "./toc.ts";
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
  /**
   * Carry the roles' password verifiers (SCRAM hashes) in the roles script (default false: a
   * verifier is not the password but can be cracked offline, and the script is kept for the
   * whole retention). Encrypted like the rest; the manifest says `passwords: "included"`.
   */
  rolePasswords?: boolean;
  /** Where a retry's reason and a cleanup's removals are told (default: nowhere). */
  log?: (line: string) => void;
}

/** Pure: whether a failed dump failed because the database changed under it (worth one more try). */
export function changedUnderDump(message: string): boolean {
  return /does not exist|cache lookup failed|could not obtain lock|deadlock detected|could not serialize|was concurrently/i.test(
    message,
  );
}

/**
 * Dumps `conn.database` into `s3://bucket/<prefix><id>/<db>.dump` (and its roles into
 * `roles.sql`) and writes the manifest next to them, last. Retries once when the database
 * changed under the dump (see {@link changedUnderDump}). A backup that fails leaves no object
 * under its prefix: the error names what was removed (or what could not be).
 */
export async function backupDatabase(p: LogicalBackupParams): Promise<DatabaseManifest> {
  const level = p.compressLevel ?? 1;
  if (!Number.isInteger(level) || level < 0 || level > 9)
    throw new Error(`invalid compression level ${String(level)}: expected an integer 0-9`);
  const log = p.log ?? (() => {});
  let retryReason: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const backupId = p.backupId ?? newBackupId();
    try {
      const manifest = await backupOnce(p, backupId, level);
      return retryReason ? { ...manifest, attempts: attempt, retryReason } : manifest;
    } catch (error) {
      const message = (error as Error).message;
      const cleanup = await removeFailedBackup(p.s3, p.bucket, `${p.prefix}${backupId}/`).catch((e: Error) => ({
        removed: [] as string[],
        left: [`cleanup itself failed: ${e.name}: ${e.message}`],
      }));
      const removed = `${cleanup.removed.length ? `removed ${cleanup.removed.join(", ")}` : `nothing is left under s3://${p.bucket}/${p.prefix}${backupId}/`}${cleanup.left.length ? `; COULD NOT REMOVE ${cleanup.left.join(", ")}: delete by hand (no manifest: not restorable)` : ""}`;
      if (attempt === 1 && changedUnderDump(message)) {
        retryReason = `the database changed under the first attempt (${message.split("\n")[0]}); ${removed}`;
        log(`backup ${backupId}: retrying once: ${retryReason}`);
        continue;
      }
      throw Object.assign(
        new Error(`backup ${backupId} of ${p.conn.database} failed: ${message}; ${removed}`, { cause: error }),
        {
          cleanup,
        },
      );
    }
  }
}

/** One attempt: see {@link backupDatabase}. Sequenced as pg_dump needs it; long on purpose. */
async function backupOnce(p: LogicalBackupParams, backupId: string, level: number): Promise<DatabaseManifest> {
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
    const passwords = carryRoles && p.rolePasswords === true;
    if (passwords && !(await canReadPasswords(client)))
      throw new Error(
        `cannot carry password verifiers: ${p.conn.user} cannot read pg_authid (RDS hides it from every user): back up without them`,
      );

    // pg_dump first: it locks every table it dumps before it writes its TOC.
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
        // The upload completes only once pg_dump exited 0: a dump cut short is never an object.
        dump.done.then(
          () => done(),
          (e: Error) => done(e),
        );
      },
    });
    dump.stdout.pipe(tee);
    dump.done.catch((e: Error) => {
      toc.end();
      tee.destroy(e);
    });
    const uploading = uploadStream(p.s3, {
      bucket: p.bucket,
      key,
      body: tee,
      kmsKeyId: p.kmsKeyId,
      metadata: { "backup-id": backupId },
    });
    // An upload that fails stops pg_dump (its pipe closes) rather than leaving it blocked.
    uploading.catch(() => dump.stdout.destroy());
    // Read in the dump's snapshot once pg_dump holds its locks: exactly what it dumps.
    const facts = toc.contents.then(async (contents) => {
      // An extension's configuration table has rows in the dump but no TABLE entry of its own.
      const tables = await tablesByOid(client, [...new Set([...contents.tables, ...contents.tableData])]);
      const withData = new Set(contents.tableData);
      const rowCounts = await exactRowCounts(
        client,
        tables.filter((t) => withData.has(t.oid)).map((t) => t.name),
      );
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
      const largeObjects = await largeObjectFacts(client);
      const needed = carryRoles ? await neededRoles(client, Object.keys(ownership.by)) : [];
      return { contents, tables, rowCounts, foreignKeys, ownership, privileges, largeObjects, needed };
    });
    const settled = await Promise.allSettled([uploading, dump.done, facts]);
    const failure = settled.find((r) => r.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
    const object = (settled[0] as PromiseFulfilledResult<Awaited<typeof uploading>>).value;
    const dumped = (settled[2] as PromiseFulfilledResult<Awaited<typeof facts>>).value;
    await client.query("COMMIT");

    const roles = carryRoles ? await dumpRoles(p.conn, p.binDir, dumped.needed, passwords) : null;
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
      largeObjectBytes: dumped.largeObjects.bytes,
      foreignKeys: dumped.foreignKeys,
      roles:
        roles && rolesObject
          ? { ...objectFacts(rolesObject), names: roles.names, passwords: roles.passwords, leftOut: roles.leftOut }
          : null,
      ownership: dumped.ownership,
      privileges: dumped.privileges,
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
  /** Restore GRANTs, REVOKEs, default privileges and policies (false: `--no-privileges`: they are lost). */
  privileges?: boolean;
}

/** Pure: whether a restore keeping `keep` needs the backup's roles (owners, grantees, policies' roles). */
export const needsRoles = (keep: KeepOptions): boolean => keep.ownership !== false || keep.privileges !== false;

export interface RestoreParams extends KeepOptions {
  s3: S3Client;
  bucket: string;
  manifest: LoadedDatabaseManifest;
  /**
   * Where to restore: `database` is the name the restored database gets. It is restored into a
   * new database first and renamed only once complete; one already there is renamed aside
   * (`<name>_replaced_<backup id>`), never dropped.
   */
  target: PgConnection;
  binDir: string;
  /** Parallel restore jobs. Default 2. */
  jobs?: number;
  /** Where a restore's steps are told (default: nowhere). */
  log?: (line: string) => void;
}

/** Pure: pg_restore's options for what to keep. Ownership is given by pg_restore itself unless `--no-owner`. */
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
    /must be (a )?member of role|must be owner|must be able to SET ROLE|permission denied to (create|set) role/i.test(
      message,
    )
  )
    return `${message}. The restoring user cannot give objects their owners: restore as a user with CREATEROLE (RDS's master user), a member of every owning role, or pass --no-owner for a copy owned by the restoring user (ownership is then lost)`;
  return message;
}

/** Pure: pg_restore's errors (the ERROR lines, at most 10 shown; never the DETAIL lines, which quote rows), on one line. */
export function restoreErrors(stderr: string): string {
  const errors = stderr
    .split("\n")
    .filter((l) => /ERROR: /.test(l))
    .map((l) => l.replace(/^.*?ERROR: +/, ""));
  if (!errors.length) return lastLines(stderr);
  // Only stderr's tail is kept: pg_restore's own total, at the end, counts them all.
  const total = Math.max(errors.length, Number(/errors ignored on restore: (\d+)/.exec(stderr)?.[1] ?? 0));
  const shown = errors.slice(0, 10).join(" | ");
  return `${total} error(s): ${shown}${total > 10 ? ` | … ${total - 10} more` : ""}`;
}

/** A dump read from the bucket into a private temp file and proven against its manifest. */
export interface ProvenDump {
  file: string;
  bytes: number;
  sha256: string;
  /** Removes the temp file. */
  remove(): Promise<void>;
}

/**
 * Downloads the backup's dump into a private (0700) temp directory, hashing every byte, and
 * checks its size and SHA-256 against the manifest before anything is restored from it.
 * @throws Error naming the object, what it has and what the manifest says, having written nothing.
 */
export async function fetchProvenDump(
  s3: S3Client,
  bucket: string,
  manifest: Pick<LoadedDatabaseManifest, "object" | "backupId">,
): Promise<ProvenDump> {
  const dir = await mkdtemp(join(tmpdir(), "eventchain-restore-"));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const file = join(dir, "backup.dump");
    const hash = createHash("sha256");
    let bytes = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(
      await downloadStream(s3, bucket, manifest.object.key),
      counting,
      createWriteStream(file, { mode: 0o600 }),
    );
    const sha256 = hash.digest("hex");
    const problems = [
      ...(bytes !== manifest.object.bytes ? [`${bytes} bytes, the manifest says ${manifest.object.bytes}`] : []),
      ...(sha256 !== manifest.object.sha256 ? [`SHA-256 ${sha256}, the manifest says ${manifest.object.sha256}`] : []),
    ];
    if (problems.length)
      throw new Error(
        `dump of backup ${manifest.backupId} (s3://${bucket}/${manifest.object.key}) does not match its manifest: ${problems.join("; ")}: not restoring from it (nothing was changed)`,
      );
    return { file, bytes, sha256, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The backup's roles script, read back and checked against the manifest's size and SHA-256. */
async function readRoles(s3: S3Client, bucket: string, manifest: LoadedDatabaseManifest): Promise<string> {
  const roles = manifest.roles!;
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(s3, bucket, roles.key)) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const sha256 = createHash("sha256").update(body).digest("hex");
  if (sha256 !== roles.sha256 || body.length !== roles.bytes)
    throw new Error(
      `roles of backup ${manifest.backupId} (s3://${bucket}/${roles.key}) have ${body.length} bytes and SHA-256 ${sha256}, the manifest says ${roles.bytes} and ${roles.sha256}: not restoring from a damaged roles script (nothing was changed)`,
    );
  return body.toString("utf8");
}

/** What restoring into a database did besides its objects: for the report, and to undo. */
export interface RestoredInto {
  seconds: number;
  /** Roles recreated (null: the backup carries none, or the restore keeps neither owners nor privileges). */
  roles: RecreatedRoles | null;
  /** Owning roles the restoring user was made a member of, to give them their objects; revoke after. */
  borrowed: string[];
  /** What the backup holds that this restore did not apply, and why. */
  leftOut: LeftOut[];
  /** pg_restore's errors (continueOnError only), on one line; null when there were none. */
  errors: string | null;
}

/**
 * Restores a proven dump into `database`, an empty database the caller created: the roles first
 * (unless neither owners nor privileges are kept), then pg_restore in two passes (schemas and
 * their GRANTs, then the rest: see `restoreLists`), as a non-superuser with CREATEROLE can.
 * @throws Error (with `roles` and `borrowed` attached, to undo) when anything fails and
 * `continueOnError` is not set; with it, the errors are returned instead.
 */
export async function restoreInto(
  p: Omit<RestoreParams, "target" | "log"> & { conn: PgConnection; dump: ProvenDump; continueOnError?: boolean },
): Promise<RestoredInto> {
  const jobs = p.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw new Error(`invalid jobs ${String(jobs)}: expected an integer 1-64`);
  const started = Date.now();
  const keep: KeepOptions = { ownership: p.ownership, privileges: p.privileges };
  const out: RestoredInto = { seconds: 0, roles: null, borrowed: [], leftOut: [], errors: null };
  const undo = (error: Error) => Object.assign(error, { roles: out.roles, borrowed: out.borrowed });
  const admin = new pg.Client(p.conn);
  await admin.connect();
  try {
    if (p.manifest.roles && needsRoles(keep)) {
      const script = await readRoles(p.s3, p.bucket, p.manifest);
      try {
        out.roles = await recreateRoles(admin, script);
      } catch (error) {
        out.roles = (error as { roles?: RecreatedRoles }).roles ?? null;
        throw undo(error as Error);
      }
      out.leftOut.push(...(p.manifest.roles.leftOut ?? []), ...out.roles.leftOut);
    }
    if (keep.ownership !== false && "ownership" in p.manifest) {
      const b = await borrowOwners(admin, Object.keys(p.manifest.ownership.by));
      out.borrowed = b.granted;
      out.leftOut.push(...b.refused);
    }
    const pgRestore = join(p.binDir, "pg_restore");
    const list = runTool(pgRestore, ["--list", p.dump.file], process.env);
    const chunks: Buffer[] = [];
    list.stdout.on("data", (d: Buffer) => chunks.push(d));
    await list.done;
    const lists = restoreLists(Buffer.concat(chunks).toString("utf8"), keep.privileges !== false);
    for (const policy of lists.policies)
      out.leftOut.push({
        role: "-",
        item: `policy ${policy}`,
        reason: "a restore without privileges keeps no policies",
      });
    const common = restoreArgs(p.conn.database, keep, p.continueOnError);
    const errors: string[] = [];
    for (const [name, text, parallel] of [
      ["schemas", lists.first, false],
      ["objects", lists.rest, true],
    ] as const) {
      const listFile = join(p.dump.file, `../${name}.list`);
      await writeFile(listFile, text, { mode: 0o600 });
      const r = runTool(
        pgRestore,
        [...common, ...(parallel && jobs > 1 ? [`--jobs=${jobs}`] : []), `--use-list=${listFile}`, p.dump.file],
        libpqEnv(p.conn),
      );
      r.stdout.resume();
      const failed = await r.done.then(
        () => false,
        () => true,
      );
      if (!failed) continue;
      const detail = restoreErrors(r.stderr());
      if (!p.continueOnError)
        throw undo(new Error(explainRestoreError(`pg_restore into ${p.conn.database} failed (${detail})`, keep)));
      errors.push(detail);
    }
    out.errors = errors.length ? errors.join(" | ") : null;
    out.seconds = (Date.now() - started) / 1000;
    return out;
  } finally {
    await admin.end();
  }
}

/** Pure: a database name of at most 63 characters: `base` cut to fit before `_<suffix>`. */
export function derivedName(base: string, suffix: string): string {
  return `${base.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface RestoreResult extends RestoredInto {
  /** The database now holding the backup. */
  database: string;
  /** The database that was there before, renamed aside (kept), or null. */
  replaced: string | null;
}

/**
 * The logical restore a user runs: proves the dump against the manifest (size, SHA-256), restores
 * it into a new database, and only then renames it to `target.database` (one already there is
 * renamed aside first, kept). Any failure before the rename leaves the target exactly as it was:
 * the new database, the roles this restore created and the memberships it borrowed are removed,
 * and the error names them.
 */
export async function restoreDatabase(p: RestoreParams): Promise<RestoreResult> {
  assertIdentifier(p.target.database, "target database");
  const log = p.log ?? (() => {});
  const dump = await fetchProvenDump(p.s3, p.bucket, p.manifest);
  const staging = derivedName(p.target.database, `restoring_${randomBytes(4).toString("hex")}`);
  const admin = new pg.Client({ ...p.target, database: p.target.database === "postgres" ? "template1" : "postgres" });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${ident(staging)}`);
    log(`restoring backup ${p.manifest.backupId} into a new database ${staging}`);
    let restored: RestoredInto;
    try {
      restored = await restoreInto({ ...p, conn: { ...p.target, database: staging }, dump });
    } catch (error) {
      const e = error as Error & { roles?: RecreatedRoles | null; borrowed?: string[] };
      const dropped = [`database ${staging}`];
      await admin.query(`DROP DATABASE IF EXISTS ${ident(staging)} WITH (FORCE)`);
      const created = e.roles?.created ?? [];
      const rolesLeft = created.length ? await dropRoles(admin, [...created].reverse()) : [];
      dropped.push(...created.filter((r) => !rolesLeft.includes(r)).map((r) => `role ${r}`));
      const notRevoked = await revokeMemberships(admin, e.borrowed ?? []);
      throw new Error(
        `${e.message}; ${p.target.database} is unchanged; dropped ${dropped.join(", ")}${e.borrowed?.length ? `; took back the memberships borrowed for the restore (${e.borrowed.join(", ")})` : ""}${rolesLeft.length || notRevoked.length ? `; COULD NOT undo: ${[...rolesLeft.map((r) => `role ${r}`), ...notRevoked.map((r) => `membership in ${r}`)].join(", ")}` : ""}`,
        { cause: error },
      );
    }
    await revokeMemberships(admin, restored.borrowed);
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [p.target.database]);
    let replaced: string | null = null;
    if (rowCount) {
      replaced = derivedName(p.target.database, `replaced_${p.manifest.backupId.toLowerCase()}`);
      await admin.query(`ALTER DATABASE ${ident(p.target.database)} RENAME TO ${ident(replaced)}`).catch((e: Error) => {
        throw new Error(
          `restored backup ${p.manifest.backupId} completely into ${staging}, but ${p.target.database} cannot be renamed aside (${e.message}): ${p.target.database} is unchanged; end its sessions, then ALTER DATABASE ${p.target.database} RENAME TO ${replaced}; ALTER DATABASE ${staging} RENAME TO ${p.target.database}`,
        );
      });
      log(`renamed the database that was there, ${p.target.database}, to ${replaced} (kept)`);
    }
    await admin.query(`ALTER DATABASE ${ident(staging)} RENAME TO ${ident(p.target.database)}`);
    log(`renamed ${staging} to ${p.target.database}`);
    return { ...restored, database: p.target.database, replaced };
  } finally {
    await admin.end();
    await dump.remove();
  }
}
