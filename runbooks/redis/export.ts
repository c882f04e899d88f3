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
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { startRedis, type LocalRedis } from "./test-restore-server.ts";
import { MANIFEST_VERSION, manifestKey, type ArtifactManifest } from "../postgres/manifest.ts";
import { newBackupId } from "../postgres/logical.ts";
import { downloadStream, putJson, uploadStream } from "../aws/s3-object.ts";

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
  const env = { ...process.env, ...(p.source.password ? { REDISCLI_AUTH: p.source.password } : {}) };
  const child = spawn(
    p.source.redisCli,
    ["-h", p.source.host, "-p", String(p.source.port), "--no-auth-warning", "--rdb", "-"],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-cli --rdb exited ${code}: ${stderr.trim()}`)),
    );
  });
  const gzip = createGzip({ level: 6 });
  const key = `${p.prefix}${backupId}/dump.rdb.gz`;
  const [object] = await Promise.all([
    uploadStream(p.s3, { bucket: p.bucket, key, body: gzip, contentType: "application/gzip", kmsKeyId: p.kmsKeyId }),
    pipeline(child.stdout, gzip),
    exited,
  ]);
  const manifest: ArtifactManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: "redis",
    backupId,
    startedAt,
    finishedAt: new Date().toISOString(),
    objects: [
      {
        name: "dump.rdb.gz",
        key,
        bytes: object.bytes,
        sha256: object.sha256,
        partSha256: object.partSha256,
        s3Checksum: object.s3Checksum,
      },
    ],
    facts: {
      keys: keyspaceCounts(info),
      totalKeys: Object.values(keyspaceCounts(info)).reduce((a, b) => a + b, 0),
      info: parseInfo(info),
      compression: "gzip level 6 over the RDB",
    },
  };
  await putJson(p.s3, p.bucket, manifestKey(p.prefix, backupId), manifest, p.kmsKeyId);
  return manifest;
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
