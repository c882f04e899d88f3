/**
 * Redis backup (the plan's redis-backup.sh, fixed): an RDB snapshot over the replication
 * protocol (`redis-cli --rdb -`), gzip-compressed once, streamed into the backup bucket with
 * SHA-256 checksums; manifest with key counts and INFO; verified by reading it back; optional
 * test restore into a throwaway server comparing key counts. The password comes from the
 * REDISCLI_AUTH environment variable (never an option, never logged).
 *
 * ElastiCache refuses SYNC from clients, so this runbook serves self-managed Redis (and the
 * drill); the stack's ElastiCache snapshots (window + retention in the outputs) cover the cache.
 *
 *   REDISCLI_AUTH=… npx tsx runbooks/backup-redis.ts --stack prod --redis-host 10.0.3.7
 */
import { Redis } from "ioredis";
import { snsSinks } from "./aws/notify.ts";
import { positiveInt } from "./aws/options.ts";
import { backupRedis, restoreRedisToNewServer } from "./backup/redis-export.ts";
import { listBackups, olderThanRetention, type ArtifactManifest } from "./backup/manifest.ts";
import { BackupS3Client, verifyObject } from "./backup/s3-object.ts";
import { findRedisBinaries } from "./local/redis.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import type { RawOptions, RunContext, Runbook, Step } from "./lib/types.ts";

export interface BackupRedisOptions {
  host: string;
  port: number;
  testRestore: boolean;
}

export function parseBackupRedisOptions(raw: RawOptions): BackupRedisOptions {
  const host = typeof raw["redis-host"] === "string" ? raw["redis-host"] : undefined;
  if (!host || !/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
    throw new BadInputError(`invalid --redis-host "${String(host ?? "")}": expected the host name or IPv4 address of a self-managed Redis (ElastiCache is covered by its own snapshots)`);
  }
  return { host, port: positiveInt(raw, "redis-port", 6379, 65535), testRestore: raw["test-restore"] === true };
}

type Ctx = RunContext<BackupRedisOptions>;
const s3Of = (ctx: Ctx) => ctx.aws(BackupS3Client, ctx.outputs.region);
const kmsOf = (ctx: Ctx) => (ctx.outputs.backup.kmsKeyArn.startsWith("arn:") ? ctx.outputs.backup.kmsKeyArn : undefined);

const steps: Step<BackupRedisOptions>[] = [
  {
    id: "dump-and-upload",
    title: "Take an RDB snapshot and stream it, gzip-compressed, into the backup bucket",
    describe: (ctx) => [
      { kind: "command", action: `redis-cli -h ${ctx.options.host} -p ${ctx.options.port} --rdb - | gzip`, detail: { auth: "REDISCLI_AUTH from the environment" } },
      { kind: "aws", action: `s3:CreateMultipartUpload/UploadPart/CompleteMultipartUpload (${ctx.outputs.region})`, detail: { Bucket: ctx.outputs.backup.bucketName, Key: `${ctx.outputs.backup.prefixes.redis}<backup id>/dump.rdb.gz`, ChecksumAlgorithm: "SHA256" } },
    ],
    async run(ctx) {
      const { cli } = await findRedisBinaries();
      const password = process.env.REDISCLI_AUTH;
      const client = new Redis({ host: ctx.options.host, port: ctx.options.port, ...(password ? { password } : {}), lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        const manifest = await ctx.wait("redis-cli --rdb → S3", () =>
          backupRedis({ source: { host: ctx.options.host, port: ctx.options.port, password, redisCli: cli }, client, s3: s3Of(ctx), bucket: ctx.outputs.backup.bucketName, prefix: ctx.outputs.backup.prefixes.redis, kmsKeyId: kmsOf(ctx) }),
        );
        return { backupId: manifest.backupId, object: manifest.objects[0], totalKeys: manifest.facts.totalKeys };
      } finally {
        client.disconnect();
      }
    },
  },
  {
    id: "verify-object",
    title: "Read the backup back and check its size and checksums",
    describe: (ctx) => [{ kind: "aws", action: `s3:HeadObject + s3:GetObject (${ctx.outputs.region})` }],
    async run(ctx) {
      const r = ctx.result<{ backupId: string; object: ArtifactManifest["objects"][number] }>("dump-and-upload");
      const check = await verifyObject(s3Of(ctx), { bucket: ctx.outputs.backup.bucketName, ...r.object });
      if (!check.ok) throw new Error(`Redis backup ${r.backupId} failed verification: ${check.problems.join("; ")}`);
      return { backupId: r.backupId, bytes: check.reported.bytes };
    },
  },
  {
    id: "test-restore",
    title: "Restore into a throwaway Redis and compare the key count",
    describe: (ctx) => [{ kind: "note", action: ctx.options.testRestore ? "download, gunzip, start redis-server on the RDB (loopback), DBSIZE, stop and remove it" : "skipped (no --test-restore)" }],
    async run(ctx) {
      if (!ctx.options.testRestore) return { skipped: "no --test-restore" };
      const r = ctx.result<{ backupId: string; object: ArtifactManifest["objects"][number]; totalKeys: number }>("dump-and-upload");
      const server = await restoreRedisToNewServer({ s3: s3Of(ctx), bucket: ctx.outputs.backup.bucketName, key: r.object.key });
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
  },
  {
    id: "retention-report",
    title: "Report Redis backups older than the retention objective (the lifecycle rule deletes them)",
    dependsOn: ["verify-object"],
    describe: (ctx) => [{ kind: "aws", action: `s3:ListObjectsV2 (${ctx.outputs.region})`, detail: { Prefix: ctx.outputs.backup.prefixes.redis } }],
    async run(ctx) {
      const days = ctx.outputs.backup.retentionDays.redis;
      const all = await listBackups(s3Of(ctx), ctx.outputs.backup.bucketName, ctx.outputs.backup.prefixes.redis);
      const old = olderThanRetention(all, days, new Date());
      if (old.length) ctx.log.warn(`${old.length} Redis backup(s) older than ${days} days remain: ${old.map((b) => b.backupId).join(", ")}`);
      return { backups: all.length, olderThanRetention: old.map((b) => b.backupId), deleted: [] };
    },
  },
];

export const runbook: Runbook<BackupRedisOptions> = {
  name: "backup-redis",
  summary: "RDB snapshot of a self-managed Redis to the backup bucket, verified by reading it back",
  system: "cache",
  options: {
    "redis-host": { type: "string", description: "Redis host (password from REDISCLI_AUTH)" },
    "redis-port": { type: "string", description: "Redis port", default: "6379" },
    "test-restore": { type: "boolean", description: "Also restore into a throwaway Redis and compare the key count" },
  },
  parseOptions: parseBackupRedisOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
