/**
 * Backup manifests: what a backup contains and how to check it. One manifest per backup, next
 * to its object(s): `<prefix><backupId>/manifest.json`. Validated with zod when read back, so a
 * damaged or foreign manifest fails with the field that is wrong.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { getJson } from "../aws/s3-object.ts";
import { qualifyLegacy } from "./names.ts";

/** Version of the manifests of the other backup kinds (redis, infrastructure, code). */
export const MANIFEST_VERSION = 1;
/**
 * Version of database manifests: 2 names tables schema-qualified and carries roles and access
 * digests; 3 digests privileges as sets (owner written `<owner>`, a NULL ACL as its default),
 * sizes the large objects, and says what the roles script left out. v2 still loads.
 */
export const DATABASE_MANIFEST_VERSION = 3;

export const objectSchema = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  partSha256: z.array(z.string()),
  s3Checksum: z.string().min(1),
  versionId: z.string().optional(),
});
export type ManifestObject = z.infer<typeof objectSchema>;

const accessDigestSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  entries: z.number().int().nonnegative(),
  by: z.record(z.string(), z.number().int().nonnegative()),
});

const databaseManifestV1Schema = z.object({
  manifestVersion: z.literal(1),
  kind: z.literal("database"),
  backupId: z.string().regex(/^\d{8}T\d{6}Z$/),
  database: z.string().min(1),
  format: z.literal("pg_dump-custom"),
  compression: z.string(),
  serverVersion: z.string(),
  serverVersionNum: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  lsn: z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/),
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
  object: objectSchema,
});

const leftOutSchema = z.object({ role: z.string(), item: z.string(), reason: z.string() });

export const databaseManifestSchema = databaseManifestV1Schema.extend({
  manifestVersion: z.union([z.literal(2), z.literal(DATABASE_MANIFEST_VERSION)]),
  /** Every table pg_dump dumped (its TOC), `format('%I.%I')`-quoted, sorted. */
  tables: z.array(z.string().min(1)),
  /** Rows of every table whose rows pg_dump dumped, its own rows only (ONLY), in the dump's snapshot. */
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
  partitionedTables: z.array(z.string()),
  /** Their rows are in the dump; a physical restore of the cluster would bring them back empty. */
  unloggedTables: z.array(z.string()),
  largeObjects: z.number().int().nonnegative(),
  /** Their bytes in all, in the dump's snapshot (v3). */
  largeObjectBytes: z.number().int().nonnegative().optional(),
  /** The roles the database needs (`pg_dumpall --roles-only`, kept for them), or null when not carried. */
  roles: objectSchema
    .extend({
      names: z.array(z.string()),
      passwords: z.enum(["included", "omitted"]),
      /** What the script does not carry, and why (v3): superuser attributes, reserved roles, verifiers. */
      leftOut: z.array(leftOutSchema).optional(),
    })
    .nullable(),
  /** 2 when the first attempt failed because the database changed under it (v3). */
  attempts: z.number().int().positive().optional(),
  retryReason: z.string().optional(),
  /** Every foreign key declared (not the copies derived on partitions), for the checks of a restore. */
  foreignKeys: z.array(
    z.object({
      name: z.string(),
      child: z.string(),
      parent: z.string(),
      childColumns: z.array(z.string()).min(1),
      parentColumns: z.array(z.string()).min(1),
      matchFull: z.boolean(),
      validated: z.boolean(),
    }),
  ),
  ownership: accessDigestSchema,
  privileges: accessDigestSchema,
});
export type DatabaseManifest = z.infer<typeof databaseManifestSchema>;

/** A manifest as verify-backup uses it, whatever its version. */
export type LoadedDatabaseManifest = DatabaseManifest | (z.infer<typeof databaseManifestV1Schema> & LegacyFacts);
interface LegacyFacts {
  tables: string[];
  foreignKeys: [];
  partitionedTables: string[];
  unloggedTables: string[];
  roles: null;
  /** v1 counted an inheritance parent's rows with its children's. */
  countOnly: false;
}

/**
 * Pure: a v1 manifest (tables in `public` unqualified, counts with inheritance children, no
 * roles or digests) in the form of today's, so that older backups stay verifiable.
 */
export function upgradeV1(m: z.infer<typeof databaseManifestV1Schema>): LoadedDatabaseManifest {
  const rowCounts = Object.fromEntries(Object.entries(m.rowCounts).map(([k, v]) => [qualifyLegacy(k), v]));
  return {
    ...m,
    rowCounts,
    tables: Object.keys(rowCounts).sort(),
    foreignKeys: [],
    partitionedTables: [],
    unloggedTables: [],
    roles: null,
    countOnly: false,
  };
}

/** Manifest of any other backup kind (redis, infrastructure, code): objects plus free facts. */
export const artifactManifestSchema = z.object({
  manifestVersion: z.literal(MANIFEST_VERSION),
  kind: z.enum(["redis", "infrastructure", "code"]),
  backupId: z.string().regex(/^\d{8}T\d{6}Z$/),
  startedAt: z.string(),
  finishedAt: z.string(),
  objects: z.array(objectSchema.extend({ name: z.string() })),
  facts: z.record(z.string(), z.unknown()),
});
export type ArtifactManifest = z.infer<typeof artifactManifestSchema>;

export const manifestKey = (prefix: string, backupId: string): string => `${prefix}${backupId}/manifest.json`;
export const dumpKey = (prefix: string, backupId: string, database: string): string =>
  `${prefix}${backupId}/${database}.dump`;
export const rolesKey = (prefix: string, backupId: string): string => `${prefix}${backupId}/roles.sql`;

/** Backup ids under `prefix` (one per manifest), oldest first, with the manifests' upload times. */
export async function listBackups(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ backupId: string; lastModified: Date; key: string }[]> {
  const found: { backupId: string; lastModified: Date; key: string }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const m = o.Key?.slice(prefix.length).match(/^(\d{8}T\d{6}Z)\/manifest\.json$/);
      if (m && o.Key) found.push({ backupId: m[1]!, lastModified: o.LastModified ?? new Date(0), key: o.Key });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found.sort((a, b) => a.backupId.localeCompare(b.backupId));
}

/**
 * Loads and validates the manifest of `backupId`, or of the newest backup for "latest".
 * @throws Error naming the id and the prefix when there is none.
 */
export async function loadDatabaseManifest(
  s3: S3Client,
  bucket: string,
  prefix: string,
  backupId: string,
): Promise<LoadedDatabaseManifest> {
  let id = backupId;
  if (backupId === "latest") {
    const all = await listBackups(s3, bucket, prefix);
    if (all.length === 0)
      throw new Error(
        `no database backup found under s3://${bucket}/${prefix}: expected at least one <id>/manifest.json`,
      );
    id = all[all.length - 1]!.backupId;
  } else if (!/^\d{8}T\d{6}Z$/.test(backupId)) {
    throw new Error(`invalid backup id "${backupId}": expected "latest" or an id like 20260115T143000Z`);
  }
  const raw = await getJson<unknown>(s3, bucket, manifestKey(prefix, id)).catch((e: Error) => {
    throw new Error(
      `cannot read manifest of backup ${id} at s3://${bucket}/${manifestKey(prefix, id)}: ${e.name}: ${e.message}`,
    );
  });
  const version = (raw as { manifestVersion?: unknown } | null)?.manifestVersion;
  const parsed = version === 1 ? databaseManifestV1Schema.safeParse(raw) : databaseManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `manifest of backup ${id} is not a database manifest (v1 to v${DATABASE_MANIFEST_VERSION}): ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data.manifestVersion === 1
    ? upgradeV1(parsed.data as z.infer<typeof databaseManifestV1Schema>)
    : (parsed.data as DatabaseManifest);
}

/**
 * Pure: the backups older than `retentionDays` at `now`. The runbooks only report these; the
 * bucket's lifecycle rule is what deletes (nothing is deleted by a runbook on its own).
 */
export function olderThanRetention<T extends { lastModified: Date }>(
  backups: T[],
  retentionDays: number,
  now: Date,
): T[] {
  if (!Number.isFinite(retentionDays) || retentionDays <= 0)
    throw new Error(`invalid retention ${String(retentionDays)} days: expected a positive number`);
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  return backups.filter((b) => b.lastModified.getTime() < cutoff);
}
