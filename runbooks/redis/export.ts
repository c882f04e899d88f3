/**
 * Redis backup (the plan's redis-backup.sh, fixed): `redis-cli --rdb -` (the replication
 * protocol: a consistent RDB snapshot taken by the server) streamed through gzip into the
 * backup bucket with SHA-256 checksums, no temp file; the manifest records the key count per
 * database and the server's INFO. Restore = download, gunzip to an RDB file, start a server on
 * it. The password reaches redis-cli through REDISCLI_AUTH, never argv.
 *
 * ElastiCache does not serve SYNC to clients: there the runbook's way is the service's own
 * snapshot (the stack's snapshot window and retention), not this module.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { startRedis, type LocalRedis } from "./test-restore-server.ts";
import type { ArtifactManifest } from "../postgres/manifest.ts";
import { newBackupId } from "../postgres/logical.ts";
import { backupProcessOutput } from "../aws/process-backup.ts";
import { downloadStream } from "../aws/s3-object.ts";

export interface RedisSource {
  host: string;
  port: number;
  password?: string;
  redisCli: string;
}

/** Pure: `db0:keys=3,expires=0,avg_ttl=0` lines of INFO keyspace → keys per database. */
export function keyspaceCounts(info: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of info.matchAll(/^(db\d+):keys=(\d+)/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** Pure: INFO text → { section: { field: value } }, without fields that name files or hosts. */
export function parseInfo(info: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "unknown";
  for (const line of info.split(/\r?\n/)) {
    const h = line.match(/^# (\w+)/);
    if (h) {
      section = h[1]!.toLowerCase();
      out[section] = {};
    } else if (line.includes(":")) {
      const [k, ...rest] = line.split(":");
      if (/^(config_file|executable|master_host|slave\d+)$/.test(k!)) continue;
      (out[section] ??= {})[k!] = rest.join(":");
    }
  }
  return out;
}

export async function backupRedis(p: {
  source: RedisSource;
  client: Redis;
  s3: S3Client;
  bucket: string;
  prefix: string;
  kmsKeyId?: string;
  backupId?: string;
}): Promise<ArtifactManifest> {
  const backupId = p.backupId ?? newBackupId();
  const startedAt = new Date().toISOString();
  const info = await p.client.info();
  const counts = keyspaceCounts(info);
  return backupProcessOutput({
    command: p.source.redisCli,
    args: ["-h", p.source.host, "-p", String(p.source.port), "--no-auth-warning", "--rdb", "-"],
    env: { ...process.env, ...(p.source.password ? { REDISCLI_AUTH: p.source.password } : {}) },
    label: "redis-cli --rdb",
    through: createGzip({ level: 6 }),
    s3: p.s3,
    bucket: p.bucket,
    prefix: p.prefix,
    kmsKeyId: p.kmsKeyId,
    backupId,
    startedAt,
    kind: "redis",
    name: "dump.rdb.gz",
    contentType: "application/gzip",
    facts: {
      keys: counts,
      totalKeys: Object.values(counts).reduce((a, b) => a + b, 0),
      info: parseInfo(info),
      compression: "gzip level 6 over the RDB",
    },
  });
}

/** Restores a Redis backup into a new throwaway server (the caller destroys it). */
export async function restoreRedisToNewServer(p: { s3: S3Client; bucket: string; key: string }): Promise<LocalRedis> {
  const dir = await mkdtemp(join(tmpdir(), "eventchain-redis-restore-"));
  try {
    const rdb = join(dir, "dump.rdb");
    await pipeline(
      await downloadStream(p.s3, p.bucket, p.key),
      createGunzip(),
      createWriteStream(rdb, { mode: 0o600 }),
    );
    return await startRedis({ prefix: "eventchain-redis-restored-", rdbFile: rdb });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every key with its type, TTL presence and value, sorted: two equal snapshots give equal lists. */
export async function snapshotKeys(client: Redis): Promise<[string, string, unknown][]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  keys.sort();
  const out: [string, string, unknown][] = [];
  for (const k of keys) {
    const type = await client.type(k);
    const value =
      type === "string"
        ? await client.get(k)
        : type === "hash"
          ? await client.hgetall(k)
          : type === "list"
            ? await client.lrange(k, 0, -1)
            : type === "set"
              ? (await client.smembers(k)).sort()
              : type === "zset"
                ? await client.zrange(k, 0, -1, "WITHSCORES")
                : `<${type}>`;
    out.push([k, type, value]);
  }
  return out;
}
