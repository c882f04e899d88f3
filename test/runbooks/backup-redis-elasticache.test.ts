import test from "ava";
import { CopySnapshotCommand, CreateReplicationGroupCommand, ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createClientFactory, type ClientFactory } from "../../runbooks/lib/aws.ts";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { exportNames } from "../../runbooks/redis/elasticache-export.ts";
import { runbook as backupRedis } from "../../runbooks/backup-redis.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { useMoto } from "../helpers/moto.ts";
import { redisFor, seedRedis } from "../helpers/redis.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);

/**
 * moto emulates CreateReplicationGroup, CreateSnapshot and DescribeSnapshots, but answers
 * CopySnapshot with TargetBucket (the export) with HTTP 500. That one call is served from a
 * response recorded from ElastiCache, and what ElastiCache then does — write one
 * `<name>-0001.rdb` object into the bucket — is simulated here.
 */
function clientsWithRecordedExport(endpoint: string, exported: string[], rdb: Buffer): ClientFactory {
  const real = createClientFactory({ endpoint, maxAttempts: 1 });
  return {
    get(ctor, region) {
      const client = real.get(ctor, region);
      if ((ctor as unknown) !== ElastiCacheClient) return client;
      const ec = client as unknown as ElastiCacheClient;
      const send = ec.send.bind(ec);
      return new Proxy(ec, {
        get(target, prop) {
          if (prop !== "send") return Reflect.get(target, prop);
          return async (command: unknown) => {
            if (!(command instanceof CopySnapshotCommand)) return send(command as never);
            const input = command.input;
            const s3 = new BackupS3Client({ region, endpoint, maxAttempts: 1 });
            await s3.send(
              new PutObjectCommand({
                Bucket: input.TargetBucket,
                Key: `${input.TargetSnapshotName}-0001.rdb`,
                Body: rdb,
              }),
            );
            exported.push(input.TargetSnapshotName!);
            // Recorded CopySnapshot response (trimmed): the copy is "exporting" when the call returns.
            return {
              Snapshot: {
                SnapshotName: input.TargetSnapshotName,
                ReplicationGroupId: "eventchain-prod-redis",
                SnapshotStatus: "exporting",
                SnapshotSource: "manual",
                Engine: "redis",
                EngineVersion: "7.1",
              },
              $metadata: { httpStatusCode: 200 },
            };
          };
        },
      }) as never;
    },
    destroy: () => real.destroy(),
  };
}

test("backup-redis without --redis-host snapshots the stack's ElastiCache group, exports it and proves the export (export: recorded response)", async (t) => {
  const ws = workspace(t);
  const endpoint = moto().endpoint;
  const rg = `eventchain-prod-redis-${process.pid}`;
  await new ElastiCacheClient({ region: "us-east-1", endpoint, maxAttempts: 1 }).send(
    new CreateReplicationGroupCommand({
      ReplicationGroupId: rg,
      ReplicationGroupDescription: "sessions",
      Engine: "redis",
      CacheNodeType: "cache.t4g.small",
      NumCacheClusters: 2,
    }),
  );
  // The primary endpoint: a local Redis whose RDB is what "ElastiCache" exports.
  const source = await redisFor(t);
  const client = await source.client();
  t.teardown(() => client.disconnect());
  await seedRedis(client, 120);
  const rdb = join(ws.dir, "source.rdb");
  await $({
    quiet: true,
    env: { ...process.env, ...source.env() },
  })`${source.redisCli} -h 127.0.0.1 -p ${source.port} --no-auth-warning --rdb ${rdb}`;
  const bucket = `redis-ec-${process.pid}`;
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const outputs = localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: bucket });
  outputs.cache.replicationGroupId = rg;
  outputs.cache.primaryEndpoint = `127.0.0.1:${source.port}`;
  const exported: string[] = [];
  const saved = process.env.REDISCLI_AUTH;
  process.env.REDISCLI_AUTH = source.password;
  t.teardown(() => {
    if (saved === undefined) delete process.env.REDISCLI_AUTH;
    else process.env.REDISCLI_AUTH = saved;
  });
  const r = await runRunbook(
    backupRedis,
    ["--outputs", ws.writeOutputs(outputs), "--state-dir", ws.stateDir, "--yes"],
    {
      clients: clientsWithRecordedExport(endpoint, exported, readFileSync(rdb)),
    },
  );
  t.is(r.exitCode, 0, r.stderr + r.message);
  t.deepEqual(
    r.report!.steps.map((s) => [s.id, s.status]),
    [
      ["snapshot-and-export", "succeeded"],
      ["verify-export", "succeeded"],
      ["expire-manual-snapshots", "succeeded"],
      ["retention-report", "succeeded"],
    ],
  );
  const journal = ws.journal(ws.runIds()[0]!);
  const out = journal.steps["snapshot-and-export"]!.outputs as {
    backupId: string;
    snapshot: string;
    exportedObjects: { key: string; bytes: number }[];
    sourceKeys: { before: number; after: number };
  };
  t.is(out.snapshot, exportNames(rg, out.backupId).snapshot);
  t.deepEqual(exported, [exportNames(rg, out.backupId).exported]);
  t.is(out.exportedObjects.length, 1);
  t.true(out.sourceKeys.before > 200);
  const verified = journal.steps["verify-export"]!.outputs as { restoredKeys: number };
  t.is(verified.restoredKeys, out.sourceKeys.before);
  const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `redis/${out.backupId}/manifest.json` }));
  t.regex(await manifest.Body!.transformToString(), /"source": "elasticache"/);
  const check = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `redis/${out.backupId}/verification.json` }));
  t.like(JSON.parse(await check.Body!.transformToString()), { ok: true, restoredKeys: verified.restoredKeys });
  t.deepEqual(
    (journal.steps["expire-manual-snapshots"]!.outputs as { deleted: unknown[] }).deleted,
    [],
    "nothing old yet",
  );
});

test("the snapshot clean-up is planned as a destructive step, so it asks unless --yes", async (t) => {
  const ws = workspace(t);
  const outputs = localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "b" });
  const plan = await runRunbook(backupRedis, [
    "--outputs",
    ws.writeOutputs(outputs),
    "--state-dir",
    ws.stateDir,
    "--dry-run",
  ]);
  t.is(plan.exitCode, 0, plan.message);
  t.regex(plan.stdout + plan.stderr, /expire-manual-snapshots/);
  t.regex(plan.stdout + plan.stderr, /destructive/);
});

test("backup-redis refuses ElastiCache mode when the stack runs no cache, before any change", async (t) => {
  const ws = workspace(t);
  const outputs = localOutputs({
    instanceIdentifier: "x",
    dbName: "eventchain",
    port: 5432,
    bucketName: "unused-bucket",
  });
  const r = await runRunbook(backupRedis, ["--outputs", ws.writeOutputs(outputs), "--state-dir", ws.stateDir], {
    aws: { endpoint: moto().endpoint, maxAttempts: 1 },
  });
  t.is(r.exitCode, 2);
  t.regex(r.message, /runs no ElastiCache \(cache\.replicationGroupId is null\): expected --redis-host/);
});
