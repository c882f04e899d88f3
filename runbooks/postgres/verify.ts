/**
 * Verification of a logical backup: check the object (size and S3 checksum), read it into a
 * private temp file proving its size and SHA-256 against the manifest, restore it into a scratch
 * database (its roles first, keeping ownership and privileges unless told not to, as a
 * non-superuser with CREATEROLE can), run the integrity checks against what the manifest says,
 * and always drop the scratch database, the roles the restore created and the memberships it
 * borrowed. Or check a live database, against a backup's manifest or not.
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
import { DATABASE_MANIFEST_VERSION, loadDatabaseManifest, type LoadedDatabaseManifest } from "./manifest.ts";
import {
  fetchProvenDump,
  restoreInto,
  verifyDatabaseBackup,
  type KeepOptions,
  type ProvenDump,
  type RestoredInto,
} from "./logical.ts";
import type { ProfileUse } from "./profiles.ts";
import { dropRoles, revokeMemberships, type LeftOut, type RecreatedRoles } from "./roles.ts";

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
    ...("privileges" in m && m.manifestVersion === DATABASE_MANIFEST_VERSION && keep.privileges !== false
      ? { privileges: m.privileges }
      : {}),
    ...("largeObjectBytes" in m && m.largeObjectBytes !== undefined
      ? { largeObjects: { count: m.largeObjects, bytes: m.largeObjectBytes } }
      : {}),
    ...(profile ? { profile } : {}),
  };
}

/** Verifies one backup (see the module comment); long because cleanup must follow every step. */
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
  const object = await verifyDatabaseBackup(p.s3, p.bucket, manifest, false);
  let dump: ProvenDump | undefined;
  const problems = [...object.problems];
  if (object.ok) {
    try {
      dump = await fetchProvenDump(p.s3, p.bucket, manifest);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  checks.push({
    name: `object s3://${p.bucket}/${manifest.object.key}`,
    kind: "object",
    ok: dump !== undefined,
    detail: dump
      ? `${manifest.object.bytes} bytes; S3 checksum, and the SHA-256 of every byte read back, match the manifest`
      : problems.join("; "),
  });
  const scratch = scratchDatabaseName();
  let dropped = false;
  let restored: RestoredInto | null = null;
  let rolesLeft: string[] = [];
  let result: Awaited<ReturnType<typeof checkDatabase>> | undefined;
  if (dump) {
    const admin = new pg.Client(p.server);
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${scratch}`);
      try {
        progress("restore");
        try {
          restored = await restoreInto({
            s3: p.s3,
            bucket: p.bucket,
            manifest,
            conn: { ...p.server, database: scratch },
            binDir: p.binDir,
            jobs: p.jobs,
            dump,
            continueOnError: true,
            ...keep,
          });
          checks.push({
            name: "restore into a scratch database",
            kind: "restore",
            ok: restored.errors === null,
            detail: restored.errors
              ? `pg_restore into ${scratch} failed (${restored.errors})`
              : `pg_restore finished in ${restored.seconds.toFixed(1)} s${restored.roles ? `; roles created first: ${restored.roles.created.join(", ") || "none (all present)"}` : ""}`,
          });
        } catch (error) {
          const e = error as Error & { roles?: RecreatedRoles | null; borrowed?: string[] };
          restored = { seconds: 0, roles: e.roles ?? null, borrowed: e.borrowed ?? [], leftOut: [], errors: e.message };
          checks.push({ name: "restore into a scratch database", kind: "restore", ok: false, detail: e.message });
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
        // The roles and memberships this verification made go with it; the server's own are untouched.
        if (restored?.borrowed.length) rolesLeft.push(...(await revokeMemberships(admin, restored.borrowed)));
        if (restored?.roles?.created.length)
          rolesLeft = [...rolesLeft, ...(await dropRoles(admin, [...restored.roles.created].reverse()))];
      }
    } finally {
      await admin.end();
      await dump.remove();
    }
  } else {
    dropped = true; // never created
  }
  const roles = restored?.roles ?? null;
  const leftOut: LeftOut[] = restored?.leftOut ?? [];
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
      leftOut,
    },
    notes: [
      ...(manifest.roles?.passwords === "omitted"
        ? [
            "The roles script carries no password verifiers: roles a restore creates have no password (set them before anyone logs in).",
          ]
        : []),
      ...(manifest.roles?.passwords === "included"
        ? ["The roles script carries password verifiers (SCRAM hashes), as the backup was asked to."]
        : []),
      ...(manifest.roles && !roles && keep.ownership === false && keep.privileges === false
        ? ["Neither owners nor privileges kept: no role was recreated."]
        : []),
      ...(manifest.manifestVersion === 1
        ? ["Manifest v1: no roles, ownership or privileges recorded; row counts include inheritance children."]
        : []),
      ...(manifest.manifestVersion === 2
        ? ["Manifest v2: its privileges digest is of the older form (ACLs as text): privileges are not compared."]
        : []),
      ...(rolesLeft.length
        ? [`Roles or memberships made for the restore could not be undone: ${rolesLeft.join(", ")}`]
        : []),
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
