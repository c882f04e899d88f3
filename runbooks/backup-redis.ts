/**
 * Redis backup (the plan's redis-backup.sh, fixed): an RDB snapshot over the replication
 * protocol (`redis-cli --rdb -`), gzip-compressed once, streamed into the backup bucket with
 * SHA-256 checksums; manifest with key counts and INFO; verified by reading it back; optional
 * test restore into a throwaway server comparing key counts. The password comes from the
 * REDISCLI_AUTH environment variable (never an option, never logged).
 *
 * ElastiCache refuses SYNC from clients and AWS Backup does not cover it: without
 * `--redis-host`, the runbook snapshots the stack's replication group, exports the snapshot to
 * the backup bucket, and proves the export: each RDB is downloaded, checked with
 * `redis-check-rdb`, loaded into a throwaway Redis and its key count compared with the source's;
 * then its own manual snapshots older than the cache's snapshot retention are deleted (each one
 * logged and listed in the report; no other snapshot is touched). The scheduled `redis-export`
 * job runs it that way.
 *
 *   node runbooks/backup-redis.ts --stack prod                                   # ElastiCache
 *   REDISCLI_AUTH=… node runbooks/backup-redis.ts --stack prod --redis-host 10.0.3.7
 */
import { Redis } from "ioredis";
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import { positiveInt, positiveNumber, withDefaults } from "./lib/options.ts";
import { backupRedis, restoreRedisToNewServer } from "./redis/export.ts";
import { listBackups, olderThanRetention } from "./postgres/manifest.ts";
import { BackupS3Client, putJson, verifyObject } from "./aws/s3-object.ts";
import { findRedisBinaries } from "./redis/binaries.ts";
import { exportElastiCacheSnapshot } from "./redis/elasticache-export.ts";
import { checkExport, expireManualSnapshots, totalKeys } from "./redis/export-check.ts";
import { ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type OptionSpec, type RawOptions, type RunContext, type Runbook, type StepRef } from "./lib/types.ts";

export interface BackupRedisOptions {
  /** Self-managed Redis host; absent = the stack's ElastiCache replication group. */
  host: string | undefined;
  port: number;
  testRestore: boolean;
  maxWaitMinutes: number;
  /** How far the restored export's key count may lie outside the source's counts around the snapshot. */
  keyCountTolerancePercent: number;
}

export const BACKUP_REDIS_OPTIONS = {
  "redis-host": {
    type: "string",
    description:
      "Self-managed Redis host (password from REDISCLI_AUTH); without it, the stack's ElastiCache group is snapshotted and exported",
  },
  "max-wait-minutes": {
    type: "string",
    description: "Longest wait for the ElastiCache snapshot and export",
    default: "60",
  },
  "redis-port": { type: "string", description: "Redis port", default: "6379" },
  "test-restore": { type: "boolean", description: "Also restore into a throwaway Redis and compare the key count" },
  "key-count-tolerance-percent": {
    type: "string",
    description:
      "ElastiCache: how far the restored export's key count may lie outside the source's counts around the snapshot",
    default: "1",
  },
} satisfies Record<string, OptionSpec>;

export function parseBackupRedisOptions(raw: RawOptions): BackupRedisOptions {
  const options = withDefaults(BACKUP_REDIS_OPTIONS, raw);
  const host = typeof options["redis-host"] === "string" ? options["redis-host"] : undefined;
  if (host !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
    throw new BadInputError(
      `invalid --redis-host "${host}": expected the host name or IPv4 address of a self-managed Redis`,
    );
  }
  if (host === undefined && options["test-restore"] === true)
    throw new BadInputError(
      "--test-restore needs --redis-host: an ElastiCache export is restored by seeding a new replication group",
    );
  return {
    host,
    port: positiveInt(options, "redis-port", 65535),
    testRestore: options["test-restore"] === true,
    maxWaitMinutes: positiveInt(options, "max-wait-minutes", 24 * 60),
    keyCountTolerancePercent:
      options["key-count-tolerance-percent"] === "0" ? 0 : positiveNumber(options, "key-count-tolerance-percent", 50),
  };
}

type Ctx = RunContext<BackupRedisOptions>;
const s3Of = (ctx: Ctx) => ctx.aws(BackupS3Client, ctx.outputs.region);
const kmsOf = (ctx: Ctx) =>
  ctx.outputs.backup.kmsKeyArn.startsWith("arn:") ? ctx.outputs.backup.kmsKeyArn : undefined;

const step = stepFor<BackupRedisOptions>();

/** Backups older than the retention objective (the lifecycle rule deletes them; this never does). */
function retentionStep(after: StepRef<any>) {
  return step({
    id: "retention-report",
    title: "Report Redis backups older than the retention objective (the lifecycle rule deletes them)",
    dependsOn: [after],
    describe: (ctx) => [
      {
        kind: "aws",
        action: `s3:ListObjectsV2 (${ctx.outputs.region})`,
        detail: { Prefix: ctx.outputs.backup.prefixes.redis },
      },
    ],
    async run(ctx) {
      const days = ctx.outputs.backup.retentionDays.redis;
      const all = await listBackups(s3Of(ctx), ctx.outputs.backup.bucketName, ctx.outputs.backup.prefixes.redis);
      const old = olderThanRetention(all, days, new Date());
      if (old.length)
        ctx.log.warn(
          `${old.length} Redis backup(s) older than ${days} days remain: ${old.map((b) => b.backupId).join(", ")}`,
        );
      return { backups: all.length, olderThanRetention: old.map((b) => b.backupId), deleted: [] };
    },
  });
}

/** A client of the stack's ElastiCache primary endpoint (TLS when the cache encrypts in transit). */
async function sourceClient(ctx: Ctx): Promise<Redis> {
  const endpoint = ctx.outputs.cache.primaryEndpoint;
  const match = endpoint ? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint) : null;
  if (!match)
    throw new BadInputError(
      `stack ${ctx.outputs.stack} exports no usable cache.primaryEndpoint (${JSON.stringify(endpoint)}): expected host:port of the replication group, to read the source's key count`,
    );
  const password = process.env.REDISCLI_AUTH;
  const client = new Redis({
    host: match[1]!,
    port: Number(match[2]),
    ...(password ? { password } : {}),
    ...(ctx.outputs.cache.transitEncryption ? { tls: { servername: match[1]! } } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 10_000,
  });
  await client.connect();
  return client;
}

interface Exported {
  backupId: string;
  snapshot: string;
  exportedObjects: { key: string; bytes: number }[];
  sourceKeys: { before: number; after: number };
}

/** ElastiCache: snapshot + export to the bucket (AWS Backup does not cover ElastiCache; SYNC is refused), proven. */

const snapshotAndExport = step({
  id: "snapshot-and-export",
  dependsOn: [],
  title: "Snapshot the ElastiCache replication group and export the snapshot to the backup bucket",
  describe: (ctx) => [
    {
      kind: "command",
      action: `INFO keyspace on ${ctx.outputs.cache.primaryEndpoint} before and after the snapshot${ctx.outputs.cache.transitEncryption ? " (TLS)" : ""}`,
    },
    {
      kind: "aws",
      action: `elasticache:CreateSnapshot + DescribeSnapshots (${ctx.outputs.region})`,
      detail: { ReplicationGroupId: ctx.outputs.cache.replicationGroupId },
    },
    {
      kind: "aws",
      action: `elasticache:CopySnapshot (${ctx.outputs.region})`,
      detail: { TargetBucket: ctx.outputs.backup.bucketName },
    },
    { kind: "aws", action: `s3:ListObjectsV2 + s3:HeadObject + s3:PutObject manifest (${ctx.outputs.region})` },
  ],
  async run(ctx) {
    const rg = ctx.outputs.cache.replicationGroupId;
    if (!rg)
      throw new BadInputError(
        `stack ${ctx.outputs.stack} runs no ElastiCache (cache.replicationGroupId is null): expected --redis-host for a self-managed Redis`,
      );
    const source = await sourceClient(ctx);
    try {
      const m = await ctx.wait("snapshot and export", () =>
        exportElastiCacheSnapshot({
          ec: ctx.aws(ElastiCacheClient, ctx.outputs.region),
          s3: s3Of(ctx),
          replicationGroupId: rg,
          bucket: ctx.outputs.backup.bucketName,
          prefix: ctx.outputs.backup.prefixes.redis,
          kmsKeyId: kmsOf(ctx),
          maxWaitMs: ctx.options.maxWaitMinutes * 60_000,
          countSourceKeys: () => totalKeys(source),
        }),
      );
      const out: Exported = {
        backupId: m.backupId,
        snapshot: m.facts.snapshot as string,
        exportedObjects: m.facts.exportedObjects as Exported["exportedObjects"],
        sourceKeys: m.facts.sourceKeys as Exported["sourceKeys"],
      };
      return { ...out };
    } finally {
      source.disconnect();
    }
  },
});

const verifyExport = step({
  id: "verify-export",
  dependsOn: [snapshotAndExport],
  title:
    "Download each exported RDB, check it with redis-check-rdb, restore it into a throwaway Redis and compare key counts",
  describe: (ctx) => [
    { kind: "aws", action: `s3:GetObject of each exported .rdb (${ctx.outputs.region})` },
    {
      kind: "command",
      action: `redis-check-rdb <file>; redis-server on loopback with the RDB; INFO keyspace; stop and remove it (key counts within ±${ctx.options.keyCountTolerancePercent}% of the source's)`,
    },
    { kind: "aws", action: `s3:PutObject ${ctx.outputs.backup.prefixes.redis}<backup id>/verification.json` },
  ],
  async run(ctx) {
    const e = ctx.result(snapshotAndExport);
    const check = await ctx.wait("export check", () =>
      checkExport({
        s3: s3Of(ctx),
        bucket: ctx.outputs.backup.bucketName,
        keys: e.exportedObjects.map((o) => o.key),
        sourceKeys: e.sourceKeys,
        tolerancePercent: ctx.options.keyCountTolerancePercent,
      }),
    );
    await putJson(
      s3Of(ctx),
      ctx.outputs.backup.bucketName,
      `${ctx.outputs.backup.prefixes.redis}${e.backupId}/verification.json`,
      { backupId: e.backupId, checkedAt: new Date().toISOString(), ...check },
      kmsOf(ctx),
    );
    if (!check.ok) throw new Error(`Redis export ${e.backupId} failed its check: ${check.problems.join("; ")}`);
    return {
      backupId: e.backupId,
      restoredKeys: check.restoredKeys,
      sourceKeys: check.sourceKeys,
      objects: check.objects,
    };
  },
});

const expireOldSnapshots = step({
  id: "expire-manual-snapshots",
  dependsOn: [verifyExport],
  title: "Delete this runbook's manual snapshots older than the cache's snapshot retention",
  destructive: true,
  ungated:
    "it deletes only this runbook's own snapshots past the cache's retention, after verify-export proved the new one; nothing it relies on goes stale",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `elasticache:DescribeSnapshots + DeleteSnapshot (${ctx.outputs.region})`,
      detail: {
        ReplicationGroupId: ctx.outputs.cache.replicationGroupId,
        only: `manual snapshots named ${ctx.outputs.cache.replicationGroupId}-backup-<backup id>`,
        olderThanDays: ctx.outputs.cache.snapshotRetentionDays,
      },
    },
  ],
  async run(ctx) {
    const r = await expireManualSnapshots({
      ec: ctx.aws(ElastiCacheClient, ctx.outputs.region),
      replicationGroupId: ctx.outputs.cache.replicationGroupId!,
      retentionDays: ctx.outputs.cache.snapshotRetentionDays,
      now: new Date(),
      log: ctx.log,
    });
    return {
      retentionDays: ctx.outputs.cache.snapshotRetentionDays,
      deleted: r.expire,
      kept: r.keep.map((s) => s.name),
      undated: r.undated,
    };
  },
});

const elastiCacheSteps = [snapshotAndExport, verifyExport, expireOldSnapshots];

const dumpAndUpload = step({
  id: "dump-and-upload",
  dependsOn: [],
  title: "Take an RDB snapshot and stream it, gzip-compressed, into the backup bucket",
  describe: (ctx) => [
    {
      kind: "command",
      action: `redis-cli -h ${ctx.options.host} -p ${ctx.options.port} --rdb - | gzip`,
      detail: { auth: "REDISCLI_AUTH from the environment" },
    },
    {
      kind: "aws",
      action: `s3:CreateMultipartUpload/UploadPart/CompleteMultipartUpload (${ctx.outputs.region})`,
      detail: {
        Bucket: ctx.outputs.backup.bucketName,
        Key: `${ctx.outputs.backup.prefixes.redis}<backup id>/dump.rdb.gz`,
        ChecksumAlgorithm: "SHA256",
      },
    },
  ],
  async run(ctx) {
    const host = ctx.options.host!;
    const { cli } = await findRedisBinaries();
    const password = process.env.REDISCLI_AUTH;
    const client = new Redis({
      host,
      port: ctx.options.port,
      ...(password ? { password } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await client.connect();
    try {
      const manifest = await ctx.wait("redis-cli --rdb → S3", () =>
        backupRedis({
          source: { host, port: ctx.options.port, password, redisCli: cli },
          client,
          s3: s3Of(ctx),
          bucket: ctx.outputs.backup.bucketName,
          prefix: ctx.outputs.backup.prefixes.redis,
          kmsKeyId: kmsOf(ctx),
        }),
      );
      return { backupId: manifest.backupId, object: manifest.objects[0], totalKeys: manifest.facts.totalKeys };
    } finally {
      client.disconnect();
    }
  },
});

const verifyObjectStep = step({
  id: "verify-object",
  dependsOn: [dumpAndUpload],
  title: "Read the backup back and check its size and checksums",
  describe: (ctx) => [{ kind: "aws", action: `s3:HeadObject + s3:GetObject (${ctx.outputs.region})` }],
  async run(ctx) {
    const r = ctx.result(dumpAndUpload);
    const check = await verifyObject(s3Of(ctx), { bucket: ctx.outputs.backup.bucketName, ...r.object });
    if (!check.ok) throw new Error(`Redis backup ${r.backupId} failed verification: ${check.problems.join("; ")}`);
    return { backupId: r.backupId, bytes: check.reported.bytes };
  },
});

export const testRestore = step({
  id: "test-restore",
  dependsOn: [verifyObjectStep, dumpAndUpload],
  title: "Restore into a throwaway Redis and compare the key count",
  describe: (ctx) => [
    {
      kind: "note",
      action: ctx.options.testRestore
        ? "download, gunzip, start redis-server on the RDB (loopback), DBSIZE, stop and remove it"
        : "skipped (no --test-restore)",
    },
  ],
  async run(ctx) {
    if (!ctx.options.testRestore) return { skipped: "no --test-restore" };
    const r = ctx.result(dumpAndUpload);
    const server = await restoreRedisToNewServer({
      s3: s3Of(ctx),
      bucket: ctx.outputs.backup.bucketName,
      key: r.object.key,
    });
    try {
      const c = await server.client();
      const keys = await c.dbsize();
      c.disconnect();
      if (keys !== r.totalKeys) throw new Error(`restored Redis holds ${keys} keys, the manifest ${r.totalKeys}`);
      return { restoredKeys: keys };
    } finally {
      await server.destroy();
    }
  },
});

const selfManagedSteps = [dumpAndUpload, verifyObjectStep, testRestore];

export const runbook: Runbook<BackupRedisOptions> = {
  name: "backup-redis",
  summary:
    "Redis to the backup bucket: ElastiCache snapshot exported and proven (redis-check-rdb, test restore, key counts), or an RDB of a self-managed Redis",
  system: "cache",
  options: BACKUP_REDIS_OPTIONS,
  parseOptions: parseBackupRedisOptions,
  steps: (options) =>
    options.host
      ? [...selfManagedSteps, retentionStep(verifyObjectStep)]
      : [...elastiCacheSteps, retentionStep(expireOldSnapshots)],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
