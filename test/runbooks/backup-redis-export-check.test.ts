import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateReplicationGroupCommand,
  CreateSnapshotCommand,
  DescribeSnapshotsCommand,
  ElastiCacheClient,
  type Snapshot,
} from "@aws-sdk/client-elasticache";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { $ } from "zx";
import {
  acceptableKeyCounts,
  checkExport,
  checkRdbFile,
  expireManualSnapshots,
  expiredManualSnapshots,
} from "../../runbooks/redis/export-check.ts";
import { exportNames } from "../../runbooks/redis/elasticache-export.ts";
import { newBackupId } from "../../runbooks/postgres/logical.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { useMoto } from "../helpers/moto.ts";
import { redisFor, seedRedis } from "../helpers/redis.ts";
import { workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);

/** A real RDB of a seeded Redis (what ElastiCache exports), its key count, and a bucket holding it. */
async function exported(t: import("ava").ExecutionContext, name: string) {
  const ws = workspace(t);
  const source = await redisFor(t);
  const client = await source.client();
  t.teardown(() => client.disconnect());
  await seedRedis(client, 100);
  const keys = await client.dbsize();
  const file = join(ws.dir, "dump.rdb");
  await $({
    quiet: true,
    env: { ...process.env, ...source.env() },
  })`${source.redisCli} -h 127.0.0.1 -p ${source.port} --no-auth-warning --rdb ${file}`;
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `export-check-${name}-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return { s3, bucket, rdb: readFileSync(file), keys, dir: ws.dir };
}

test("a sound export passes redis-check-rdb, restores and holds the source's key count", async (t) => {
  const e = await exported(t, "sound");
  await e.s3.send(new PutObjectCommand({ Bucket: e.bucket, Key: "redis-export-x-0001.rdb", Body: e.rdb }));
  const check = await checkExport({
    s3: e.s3,
    bucket: e.bucket,
    keys: ["redis-export-x-0001.rdb"],
    sourceKeys: { before: e.keys, after: e.keys },
    tolerancePercent: 0,
  });
  t.deepEqual(check.problems, []);
  t.true(check.ok);
  t.is(check.restoredKeys, e.keys);
  t.is(check.objects[0]!.bytes, e.rdb.length);
});

test("a truncated export is caught by redis-check-rdb", async (t) => {
  const e = await exported(t, "truncated");
  await e.s3.send(
    new PutObjectCommand({ Bucket: e.bucket, Key: "cut.rdb", Body: e.rdb.subarray(0, Math.floor(e.rdb.length * 0.6)) }),
  );
  const check = await checkExport({
    s3: e.s3,
    bucket: e.bucket,
    keys: ["cut.rdb"],
    sourceKeys: { before: e.keys, after: e.keys },
    tolerancePercent: 1,
  });
  t.false(check.ok);
  t.is(check.problems.length, 1);
  t.regex(check.problems[0]!, new RegExp(`^s3://${e.bucket}/cut\\.rdb is not a valid RDB \\(redis-check-rdb: .+\\)$`));
  t.is(check.restoredKeys, 0, "nothing of a broken file is restored");
});

test("a corrupted export (one byte changed in the middle) is caught by the RDB checksum", async (t) => {
  const e = await exported(t, "corrupted");
  const bad = Buffer.from(e.rdb);
  const at = Math.floor(bad.length / 2);
  bad[at] = bad[at]! ^ 0xff;
  await e.s3.send(new PutObjectCommand({ Bucket: e.bucket, Key: "flipped.rdb", Body: bad }));
  const check = await checkExport({
    s3: e.s3,
    bucket: e.bucket,
    keys: ["flipped.rdb"],
    sourceKeys: { before: e.keys, after: e.keys },
    tolerancePercent: 1,
  });
  t.false(check.ok);
  t.regex(check.problems.join(), /flipped\.rdb is not a valid RDB/);
});

test("an export holding fewer keys than the source held around the snapshot fails", async (t) => {
  const e = await exported(t, "short");
  await e.s3.send(new PutObjectCommand({ Bucket: e.bucket, Key: "short.rdb", Body: e.rdb }));
  const check = await checkExport({
    s3: e.s3,
    bucket: e.bucket,
    keys: ["short.rdb"],
    sourceKeys: { before: e.keys + 50, after: e.keys + 60 },
    tolerancePercent: 1,
  });
  t.false(check.ok);
  const [lo, hi] = acceptableKeyCounts(e.keys + 50, e.keys + 60, 1);
  t.deepEqual(check.problems, [
    `the export restores ${e.keys} keys; the source held ${e.keys + 50} before the snapshot and ${e.keys + 60} after it (accepted ${lo}..${hi}, ±1%)`,
  ]);
});

test("redis-check-rdb answers for a file directly, and the accepted key range is the counts around the snapshot ± tolerance", async (t) => {
  const e = await exported(t, "direct");
  const file = join(e.dir, "direct.rdb");
  await import("node:fs/promises").then((fs) => fs.writeFile(file, e.rdb));
  t.true((await checkRdbFile(file)).ok);
  await import("node:fs/promises").then((fs) => fs.writeFile(file, "not an rdb"));
  t.false((await checkRdbFile(file)).ok);
  t.deepEqual(acceptableKeyCounts(1000, 990, 1), [980, 1010]);
  t.deepEqual(acceptableKeyCounts(0, 0, 5), [0, 0]);
});

const snap = (name: string, extra: Partial<Snapshot> = {}): Snapshot => ({
  SnapshotName: name,
  SnapshotSource: "manual",
  ReplicationGroupId: "eventchain-prod-redis",
  ...extra,
});

test("the clean-up picks only this runbook's manual snapshots older than the retention (recorded DescribeSnapshots shape)", (t) => {
  const now = new Date("2026-03-20T12:00:00Z");
  const decision = expiredManualSnapshots(
    [
      snap("eventchain-prod-redis-backup-20260310t053000z", {
        NodeSnapshots: [
          { CacheClusterId: "eventchain-prod-redis-001", SnapshotCreateTime: new Date("2026-03-10T05:31:12Z") },
        ],
      }),
      snap("eventchain-prod-redis-backup-20260318t053000z"),
      snap("eventchain-prod-redis-backup-20260101t000000z", { SnapshotSource: "automated" }),
      snap("automatic.eventchain-prod-redis-2026-03-01-04-00", { SnapshotSource: "automated" }),
      snap("eventchain-prod-redis-before-upgrade", {
        NodeSnapshots: [{ SnapshotCreateTime: new Date("2025-01-01T00:00:00Z") }],
      }),
      snap("eventchain-prod-redis-final-20250101000000"),
      snap("eventchain-prod-redis-backup-notadate"),
      snap("eventchain-prod-redis-backup-20250101t000000z", { ReplicationGroupId: "another-group" }),
    ],
    "eventchain-prod-redis",
    7,
    now,
  );
  t.deepEqual(decision.expire, [
    {
      name: "eventchain-prod-redis-backup-20260310t053000z",
      createdAt: "2026-03-10T05:31:12.000Z",
      ageDays: 10.2,
      dating: "snapshot-create-time",
    },
  ]);
  t.deepEqual(
    decision.keep.map((s) => [s.name, s.dating]),
    [["eventchain-prod-redis-backup-20260318t053000z", "backup-id-in-name"]],
  );
  t.deepEqual(decision.undated, ["eventchain-prod-redis-backup-notadate"]);
});

test.serial(
  "the clean-up deletes in ElastiCache only this runbook's snapshots older than the retention, logging each",
  async (t) => {
    const ec = new ElastiCacheClient({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
    const rg = `eventchain-cleanup-${process.pid}`;
    const other = `other-group-${process.pid}`;
    for (const id of [rg, other])
      await ec.send(
        new CreateReplicationGroupCommand({
          ReplicationGroupId: id,
          ReplicationGroupDescription: "t",
          Engine: "redis",
          CacheNodeType: "cache.t4g.small",
          NumCacheClusters: 2,
        }),
      );
    const now = new Date();
    const daysAgo = (d: number) => newBackupId(new Date(now.getTime() - d * 86_400_000));
    const old = exportNames(rg, daysAgo(9)).snapshot;
    const older = exportNames(rg, daysAgo(30)).snapshot;
    const fresh = exportNames(rg, daysAgo(2)).snapshot;
    const foreignOld = exportNames(other, daysAgo(30)).snapshot;
    for (const [SnapshotName, ReplicationGroupId] of [
      [old, rg],
      [older, rg],
      [fresh, rg],
      [`${rg}-before-upgrade`, rg],
      [foreignOld, other],
    ] as const)
      await ec.send(new CreateSnapshotCommand({ SnapshotName, ReplicationGroupId }));
    const logged: string[] = [];
    const r = await expireManualSnapshots({
      ec,
      replicationGroupId: rg,
      retentionDays: 7,
      now,
      log: { info: (m) => logged.push(m), warn: (m) => logged.push(m) },
    });
    t.deepEqual([...r.deleted].sort(), [old, older].sort());
    const remaining = async (ReplicationGroupId: string) =>
      ((await ec.send(new DescribeSnapshotsCommand({ ReplicationGroupId }))).Snapshots ?? [])
        .map((s) => s.SnapshotName)
        .sort();
    t.deepEqual(
      await remaining(rg),
      [`${rg}-before-upgrade`, fresh].sort(),
      "the operator's and the fresh snapshot stay",
    );
    t.deepEqual(await remaining(other), [foreignOld], "another group's snapshots are never touched");
    t.is(logged.filter((m) => m.startsWith("deleting manual snapshot")).length, 2);
    t.regex(
      logged.join("\n"),
      new RegExp(
        `deleting manual snapshot ${old} \\(created .+, 9 days old > 7-day retention; dated by backup-id-in-name\\)`,
      ),
    );
  },
);
