/**
 * Verification of a logical backup: read the object back (size, checksums), restore it into a
 * scratch database (its roles first, keeping ownership and privileges unless told not to), run
 * the integrity checks against what the manifest says, and always drop the scratch database and
 * the roles the restore created. Or check a live database, against a backup's manifest or not.
 */
import { randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import type { PgConnection } from "./cluster.ts";
import {
  buildVerificationReport,
  checkDatabase,
  type Check,
  type CheckConcurrency,
  type Expectations,
  type VerificationReport,
} from "./integrity.ts";
import { loadDatabaseManifest, type LoadedDatabaseManifest } from "./manifest.ts";
import { restoreDatabase, verifyDatabaseBackup, type KeepOptions } from "./logical.ts";
import type { ProfileUse } from "./profiles.ts";
import { dropRoles, type RecreatedRoles } from "./roles.ts";

export interface VerifyBackupParams extends KeepOptions {
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
  /** Application checks (default: EventChain's where present). */
  profile?: ProfileUse;
  /** Called with each phase's name, for progress. */
  progress?: (phase: string) => void;
}

/** Pure: a scratch database name that cannot collide with a real one. */
export function scratchDatabaseName(): string {
  return `eventchain_verify_${randomBytes(5).toString("hex")}`;
}

/** Pure: what to expect of a database restored (or recovered) from `m`, given what the restore kept. */
export function expectationsOf(m: LoadedDatabaseManifest, keep: KeepOptions, profile?: ProfileUse): Expectations {
  return {
    tables: m.tables,
    partitionedTables: m.partitionedTables,
    rowCounts: m.rowCounts,
    foreignKeys: m.foreignKeys,
    countOnly: "countOnly" in m ? m.countOnly : true,
    ...("ownership" in m && keep.ownership !== false ? { ownership: m.ownership } : {}),
    ...("privileges" in m && keep.privileges !== false ? { privileges: m.privileges } : {}),
    ...(profile ? { profile } : {}),
  };
}

export async function verifyBackup(
  p: VerifyBackupParams,
): Promise<VerificationReport & { scratchDatabase: string; scratchDropped: boolean; rolesLeft: string[] }> {
  const startedAt = new Date().toISOString();
  const checks: Check[] = [];
  const progress = p.progress ?? (() => {});
  const keep: KeepOptions = { ownership: p.ownership, privileges: p.privileges };
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
  let roles: RecreatedRoles | null = null;
  let rolesLeft: string[] = [];
  let result: Awaited<ReturnType<typeof checkDatabase>> | undefined;
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
            continueOnError: true,
            ...keep,
          });
          roles = r.roles;
          checks.push({
            name: "restore into a scratch database",
            kind: "restore",
            ok: true,
            detail: `pg_restore finished in ${r.seconds.toFixed(1)} s${r.roles ? `; roles created first: ${r.roles.created.join(", ") || "none (all present)"}` : ""}`,
          });
        } catch (error) {
          roles = (error as { roles?: RecreatedRoles | null }).roles ?? null;
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
          result = await checkDatabase(
            db,
            expectationsOf(manifest, keep, p.profile),
            sideBySide({ ...p.server, database: scratch }),
          );
          checks.push(...result.checks);
        } finally {
          await db.end();
        }
      } finally {
        progress("cleanup");
        await admin.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
        const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [scratch]);
        dropped = rowCount === 0;
        // The roles this verification created go with it; those the server had are untouched.
        if (roles?.created.length) rolesLeft = await dropRoles(admin, [...roles.created].reverse());
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
    unloggedTables: result?.unloggedTables ?? manifest.unloggedTables,
    profile: result?.profile ?? { name: null, mode: "none", applied: [], notApplicable: [] },
    restore: {
      ownership: keep.ownership !== false,
      privileges: keep.privileges !== false,
      roles,
      rolesPasswords: manifest.roles?.passwords ?? null,
    },
    notes: [
      ...(manifest.roles?.passwords === "omitted"
        ? [
            "The server hid role passwords at backup time: roles a restore creates have no password (set them before anyone logs in).",
          ]
        : []),
      ...(manifest.manifestVersion === 1
        ? ["Manifest v1: no roles, ownership or privileges recorded; row counts include inheritance children."]
        : []),
      ...(rolesLeft.length ? [`Roles created for the restore could not be dropped: ${rolesLeft.join(", ")}`] : []),
    ],
  });
  return { ...report, scratchDatabase: scratch, scratchDropped: dropped, rolesLeft };
}

/** The integrity checks run two at a time (both cores of a small server), on a second connection. */
function sideBySide(conn: pg.ClientConfig): CheckConcurrency {
  return {
    concurrency: 2,
    connect: async () => {
      const c = new pg.Client(conn);
      await c.connect();
      return c;
    },
  };
}

/**
 * Integrity checks on a live (e.g. just recovered, or restored by hand) database, no restore;
 * with a backup's manifest, its tables and row counts are expected too.
 */
export async function verifyLiveDatabase(
  conn: PgConnection,
  options: { manifest?: LoadedDatabaseManifest; profile?: ProfileUse; keep?: KeepOptions } = {},
): Promise<VerificationReport> {
  const startedAt = new Date().toISOString();
  const db = new pg.Client(conn);
  await db.connect();
  try {
    const result = await checkDatabase(
      db,
      options.manifest
        ? expectationsOf(options.manifest, options.keep ?? {}, options.profile)
        : { ...(options.profile ? { profile: options.profile } : {}) },
      sideBySide(conn),
    );
    return buildVerificationReport({
      backupId: options.manifest?.backupId ?? null,
      database: conn.database,
      startedAt,
      finishedAt: new Date().toISOString(),
      checks: result.checks,
      unloggedTables: result.unloggedTables,
      profile: result.profile,
    });
  } finally {
    await db.end();
  }
}
