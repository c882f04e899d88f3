/**
 * Backup manifests: what a backup contains and how to check it. One manifest per backup, next
 * to its object(s): `<prefix><backupId>/manifest.json`. Validated with zod when read back, so a
 * damaged or foreign manifest fails with the field that is wrong.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { getJson } from "../aws/s3-object.ts";

export const MANIFEST_VERSION = 1;

export const objectSchema = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  partSha256: z.array(z.string()),
  s3Checksum: z.string().min(1),
  versionId: z.string().optional(),
});
export type ManifestObject = z.infer<typeof objectSchema>;

export const databaseManifestSchema = z.object({
  manifestVersion: z.literal(MANIFEST_VERSION),
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
export type DatabaseManifest = z.infer<typeof databaseManifestSchema>;

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
): Promise<DatabaseManifest> {
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
  const parsed = databaseManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `manifest of backup ${id} is not a database manifest v${MANIFEST_VERSION}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
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
