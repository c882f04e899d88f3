/**
 * Redis exports that prove themselves: each exported RDB is downloaded, checked with
 * `redis-check-rdb` (structure and the RDB's own CRC64), loaded into a throwaway Redis on
 * loopback, and its key count compared with the source's (read from the source before and
 * after the snapshot, since a live cache changes while it is taken). And the clean-up ElastiCache
 * does not do itself: manual snapshots this runbook took, once older than the retention, are
 * deleted as an explicit, logged decision; no other snapshot is ever touched.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  type ElastiCacheClient,
  type Snapshot,
} from "@aws-sdk/client-elasticache";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { $ } from "zx";
import { downloadStream } from "../aws/s3-object.ts";
import { startRedis } from "./test-restore-server.ts";
import type { Logger } from "../lib/types.ts";
import { keyspaceCounts } from "./export.ts";
import { findRedisBinaries } from "./binaries.ts";

/** Total keys over every database of a Redis, from INFO keyspace. */
export async function totalKeys(client: Redis): Promise<number> {
  return Object.values(keyspaceCounts(await client.info("keyspace"))).reduce((a, b) => a + b, 0);
}

/** What `redis-check-rdb` says of a file. */
export interface RdbCheck {
  ok: boolean;
  /** Its last lines (the verdict, or what is wrong and where). */
  output: string;
}

/** Runs `redis-check-rdb` on a file: exit 0 and "RDB looks OK!" or it is not a usable RDB. */
export async function checkRdbFile(file: string, redisCheckRdb?: string): Promise<RdbCheck> {
  const bin = redisCheckRdb ?? (await findRedisBinaries()).checkRdb;
  const r = await $({ quiet: true, nothrow: true })`${bin} ${file}`;
  const output = `${r.stdout}\n${r.stderr}`
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join(" | ");
  return { ok: r.exitCode === 0 && /RDB looks OK/i.test(r.stdout), output };
}

/** Pure: the range of key counts a restore of a snapshot taken between `before` and `after` may hold. */
export function acceptableKeyCounts(before: number, after: number, tolerancePercent: number): [number, number] {
  const lo = Math.min(before, after);
  const hi = Math.max(before, after);
  const slack = Math.ceil((hi * tolerancePercent) / 100);
  return [Math.max(0, lo - slack), hi + slack];
}

export interface ExportCheck {
  ok: boolean;
  problems: string[];
  objects: { key: string; bytes: number; checkRdb: string; keys: number | null }[];
  restoredKeys: number;
  sourceKeys: { before: number; after: number };
  acceptable: [number, number];
}

/**
 * Downloads every exported RDB (one per shard), checks each with `redis-check-rdb`, loads it
 * into a throwaway Redis and sums the keys; the sum must fall within the source's key counts
 * around the snapshot (± `tolerancePercent`, for keys that expired or changed meanwhile).
 * Nothing is left behind (temp files and servers are removed).
 */
export async function checkExport(p: {
  s3: S3Client;
  bucket: string;
  keys: string[];
  sourceKeys: { before: number; after: number };
  tolerancePercent: number;
  /** Directory for the downloads (default the system's temp dir: the job's scratch volume). */
  scratch?: string;
}): Promise<ExportCheck> {
  const dir = await mkdtemp(join(p.scratch ?? tmpdir(), "eventchain-redis-export-check-"));
  const objects: ExportCheck["objects"] = [];
  const problems: string[] = [];
  let restored = 0;
  try {
    for (const [i, key] of p.keys.entries()) {
      const file = join(dir, `${i}.rdb`);
      await pipeline(await downloadStream(p.s3, p.bucket, key), createWriteStream(file, { mode: 0o600 }));
      const bytes = (await stat(file)).size;
      const check = await checkRdbFile(file);
      if (!check.ok) {
        problems.push(`s3://${p.bucket}/${key} is not a valid RDB (redis-check-rdb: ${check.output})`);
        objects.push({ key, bytes, checkRdb: check.output, keys: null });
        continue;
      }
      const server = await startRedis({ prefix: "eventchain-redis-export-restore-", rdbFile: file });
      try {
        const client = await server.client();
        try {
          const keys = await totalKeys(client);
          restored += keys;
          objects.push({ key, bytes, checkRdb: "RDB looks OK", keys });
        } finally {
          client.disconnect();
        }
      } finally {
        await server.destroy();
      }
      await rm(file, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const acceptable = acceptableKeyCounts(p.sourceKeys.before, p.sourceKeys.after, p.tolerancePercent);
  if (problems.length === 0 && (restored < acceptable[0] || restored > acceptable[1]))
    problems.push(
      `the export restores ${restored} keys; the source held ${p.sourceKeys.before} before the snapshot ` +
        `and ${p.sourceKeys.after} after it (accepted ${acceptable[0]}..${acceptable[1]}, ±${p.tolerancePercent}%)`,
    );
  return { ok: problems.length === 0, problems, objects, restoredKeys: restored, sourceKeys: p.sourceKeys, acceptable };
}

/** A manual snapshot this runbook took, and how old it is. */
export interface DatedSnapshot {
  name: string;
  createdAt: string;
  ageDays: number;
  /** Where the time comes from: ElastiCache's SnapshotCreateTime, or the backup id in our name. */
  dating: "snapshot-create-time" | "backup-id-in-name";
}

export interface SnapshotDecision {
  expire: DatedSnapshot[];
  keep: DatedSnapshot[];
  /** Ours but with no time to judge by: kept, and reported. */
  undated: string[];
}

/** The snapshot-name prefix of this runbook's manual snapshots (see `exportNames`). */
export const ownSnapshotPrefix = (replicationGroupId: string) => `${replicationGroupId}-backup-`;

function createdAt(s: Snapshot, prefix: string): { at: Date; dating: DatedSnapshot["dating"] } | undefined {
  const times = (s.NodeSnapshots ?? [])
    .map((n) => n.SnapshotCreateTime)
    .filter((t): t is Date => t instanceof Date && !Number.isNaN(t.getTime()));
  if (times.length) return { at: new Date(Math.min(...times.map((t) => t.getTime()))), dating: "snapshot-create-time" };
  const id = /^(\d{8})t(\d{6})z$/.exec((s.SnapshotName ?? "").slice(prefix.length));
  if (!id) return undefined;
  const [d, t] = [id[1]!, id[2]!];
  const at = new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`,
  );
  return Number.isNaN(at.getTime()) ? undefined : { at, dating: "backup-id-in-name" };
}

/**
 * Pure: which of `snapshots` to delete. Only manual snapshots of `replicationGroupId` named by
 * this runbook qualify; of those, the ones created more than `retentionDays` before `now`
 * (by age, never by count). Automatic snapshots, other manual snapshots (an operator's, a final
 * snapshot) and undatable ones are never chosen.
 */
export function expiredManualSnapshots(
  snapshots: Snapshot[],
  replicationGroupId: string,
  retentionDays: number,
  now: Date,
): SnapshotDecision {
  const prefix = ownSnapshotPrefix(replicationGroupId);
  const decision: SnapshotDecision = { expire: [], keep: [], undated: [] };
  for (const s of snapshots) {
    const name = s.SnapshotName ?? "";
    if (s.SnapshotSource !== "manual" || !name.startsWith(prefix)) continue;
    if (s.ReplicationGroupId !== undefined && s.ReplicationGroupId !== replicationGroupId) continue;
    const when = createdAt(s, prefix);
    if (!when) {
      decision.undated.push(name);
      continue;
    }
    const ageDays = Math.floor(((now.getTime() - when.at.getTime()) / 86_400_000) * 10) / 10;
    const dated = { name, createdAt: when.at.toISOString(), ageDays, dating: when.dating };
    (ageDays > retentionDays ? decision.expire : decision.keep).push(dated);
  }
  return decision;
}

/** Every manual snapshot of a replication group (paged). */
export async function manualSnapshots(ec: ElastiCacheClient, replicationGroupId: string): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  let marker: string | undefined;
  do {
    const page = await ec.send(
      new DescribeSnapshotsCommand({ ReplicationGroupId: replicationGroupId, SnapshotSource: "user", Marker: marker }),
    );
    out.push(...(page.Snapshots ?? []));
    marker = page.Marker;
  } while (marker);
  return out;
}

/**
 * Deletes this runbook's manual snapshots older than `retentionDays`, logging each decision.
 * @returns the decision, with what was deleted.
 */
export async function expireManualSnapshots(p: {
  ec: ElastiCacheClient;
  replicationGroupId: string;
  retentionDays: number;
  now: Date;
  log: Logger;
}): Promise<SnapshotDecision & { deleted: string[] }> {
  const decision = expiredManualSnapshots(
    await manualSnapshots(p.ec, p.replicationGroupId),
    p.replicationGroupId,
    p.retentionDays,
    p.now,
  );
  const deleted: string[] = [];
  for (const s of decision.expire) {
    p.log.info(
      `deleting manual snapshot ${s.name} (created ${s.createdAt}, ${s.ageDays} days old > ${p.retentionDays}-day retention; dated by ${s.dating})`,
    );
    await p.ec.send(new DeleteSnapshotCommand({ SnapshotName: s.name }));
    deleted.push(s.name);
  }
  for (const name of decision.undated)
    p.log.warn(`kept manual snapshot ${name}: no creation time to judge its age by (delete it by hand once checked)`);
  return { ...decision, deleted };
}
