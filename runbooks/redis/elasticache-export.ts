/**
 * ElastiCache (Redis) backup: AWS Backup does not cover ElastiCache and ElastiCache refuses
 * SYNC, so the cache gets a manual snapshot (unique name) and an export of that snapshot to the
 * backup bucket (`CopySnapshot` with `TargetBucket`: ElastiCache writes one `<name>-<node>.rdb`
 * object per node). The source's key count is read just before the snapshot and again once it
 * is available, for the export check (`export-check.ts`) to compare the restored export with;
 * a manifest beside the other Redis backups records snapshot, node, key-count and object facts.
 */
import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  DescribeSnapshotsCommand,
  type ElastiCacheClient,
} from "@aws-sdk/client-elasticache";
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { ELASTICACHE_EXPORT_PREFIX } from "../../contract/backup-prefixes.ts";
import { MANIFEST_VERSION, manifestKey, type ArtifactManifest } from "../postgres/manifest.ts";
import { newBackupId } from "../postgres/logical.ts";
import { putJson } from "../aws/s3-object.ts";

/** Pure: snapshot names ElastiCache accepts (letters, digits, hyphens; a letter first; ≤ 255). */
export function exportNames(replicationGroupId: string, backupId: string): { snapshot: string; exported: string } {
  const stamp = backupId.toLowerCase();
  return {
    snapshot: `${replicationGroupId}-backup-${stamp}`,
    exported: `${ELASTICACHE_EXPORT_PREFIX}${replicationGroupId}-${stamp}`,
  };
}

export interface ElastiCacheExportParams {
  ec: ElastiCacheClient;
  s3: S3Client;
  replicationGroupId: string;
  bucket: string;
  prefix: string;
  kmsKeyId?: string;
  backupId?: string;
  /** Longest wait for the snapshot and for the exported objects. */
  maxWaitMs: number;
  /** Counts the source's keys (its primary endpoint); called before the snapshot and once it is available. */
  countSourceKeys: () => Promise<number>;
  sleep?: (ms: number) => Promise<void>;
}

async function poll<T>(
  what: string,
  maxWaitMs: number,
  sleep: (ms: number) => Promise<void>,
  fn: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (let i = 0; ; i++) {
    const r = await fn();
    if (r !== undefined) return r;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${Math.round(maxWaitMs / 60_000)} min`);
    await sleep(Math.min(1000 * 2 ** i, 30_000));
  }
}

export async function exportElastiCacheSnapshot(p: ElastiCacheExportParams): Promise<ArtifactManifest> {
  const sleep = p.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const backupId = p.backupId ?? newBackupId();
  const startedAt = new Date().toISOString();
  const names = exportNames(p.replicationGroupId, backupId);
  const keysBefore = await p.countSourceKeys();
  await p.ec.send(
    new CreateSnapshotCommand({ ReplicationGroupId: p.replicationGroupId, SnapshotName: names.snapshot }),
  );
  const snapshot = await poll(`snapshot ${names.snapshot} available`, p.maxWaitMs, sleep, async () => {
    const s = (await p.ec.send(new DescribeSnapshotsCommand({ SnapshotName: names.snapshot }))).Snapshots?.[0];
    if (s?.SnapshotStatus === "failed") throw new Error(`snapshot ${names.snapshot} failed`);
    return s?.SnapshotStatus === "available" ? s : undefined;
  });
  const keysAfter = await p.countSourceKeys();
  await p.ec.send(
    new CopySnapshotCommand({
      SourceSnapshotName: names.snapshot,
      TargetSnapshotName: names.exported,
      TargetBucket: p.bucket,
    }),
  );
  const nodes = Math.max(1, snapshot.NodeSnapshots?.length ?? 1);
  const objects = await poll(
    `${nodes} exported object(s) s3://${p.bucket}/${names.exported}*`,
    p.maxWaitMs,
    sleep,
    async () => {
      const list = await p.s3.send(new ListObjectsV2Command({ Bucket: p.bucket, Prefix: names.exported }));
      const rdb = (list.Contents ?? []).filter((o) => o.Key?.endsWith(".rdb"));
      return rdb.length >= nodes ? rdb : undefined;
    },
  );
  const checked = [];
  for (const o of objects) {
    const head = await p.s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: o.Key! }));
    if (!head.ContentLength) throw new Error(`exported object s3://${p.bucket}/${o.Key} is empty`);
    checked.push({ key: o.Key!, bytes: head.ContentLength });
  }
  const manifest: ArtifactManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: "redis",
    backupId,
    startedAt,
    finishedAt: new Date().toISOString(),
    objects: [],
    facts: {
      source: "elasticache",
      replicationGroupId: p.replicationGroupId,
      snapshot: names.snapshot,
      engineVersion: snapshot.EngineVersion ?? null,
      nodeSnapshots: (snapshot.NodeSnapshots ?? []).map((n) => ({
        cacheClusterId: n.CacheClusterId,
        sizeMb: n.CacheSize,
        createdAt: n.SnapshotCreateTime?.toISOString(),
      })),
      exportedObjects: checked,
      sourceKeys: { before: keysBefore, after: keysAfter },
      note: "exported by ElastiCache (no client-side checksum); restore by seeding a new replication group from these .rdb objects",
    },
  };
  await putJson(p.s3, p.bucket, manifestKey(p.prefix, backupId), manifest, p.kmsKeyId);
  return manifest;
}
