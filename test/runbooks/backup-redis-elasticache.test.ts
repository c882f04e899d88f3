import test from "ava";
import { CopySnapshotCommand, CreateReplicationGroupCommand, ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createClientFactory, type ClientFactory } from "../../runbooks/lib/aws.ts";
import { localOutputs } from "../../runbooks/local/outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { exportNames } from "../../runbooks/redis/elasticache-export.ts";
import { runbook as backupRedis } from "../../runbooks/backup-redis.ts";
import { useMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);

/**
 * moto emulates CreateReplicationGroup, CreateSnapshot and DescribeSnapshots, but answers
 * CopySnapshot with TargetBucket (the export) with HTTP 500. That one call is served from a
 * response recorded from ElastiCache, and what ElastiCache then does — write one
 * `<name>-0001.rdb` object into the bucket — is simulated here.
 */
function clientsWithRecordedExport(endpoint: string, exported: string[]): ClientFactory {
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
                Body: Buffer.from("REDIS0010\xfa\tredis-ver\x067.1.0\xff"),
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

test("backup-redis without --redis-host snapshots the stack's ElastiCache group and exports it to the bucket (export: recorded response)", async (t) => {
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
  const bucket = `redis-ec-${process.pid}`;
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const outputs = localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: bucket });
  outputs.cache.replicationGroupId = rg;
  const exported: string[] = [];
  const r = await runRunbook(backupRedis, ["--outputs", ws.writeOutputs(outputs), "--state-dir", ws.stateDir], {
    clients: clientsWithRecordedExport(endpoint, exported),
  });
  t.is(r.exitCode, 0, r.stderr + r.message);
  t.deepEqual(
    r.report!.steps.map((s) => [s.id, s.status]),
    [
      ["snapshot-and-export", "succeeded"],
      ["retention-report", "succeeded"],
    ],
  );
  const out = ws.journal(ws.runIds()[0]!).steps["snapshot-and-export"]!.outputs as {
    backupId: string;
    snapshot: string;
    exportedObjects: { key: string; bytes: number }[];
  };
  t.is(out.snapshot, exportNames(rg, out.backupId).snapshot);
  t.deepEqual(exported, [exportNames(rg, out.backupId).exported]);
  t.is(out.exportedObjects.length, 1);
  t.true(out.exportedObjects[0]!.bytes > 0);
  const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `redis/${out.backupId}/manifest.json` }));
  t.regex(await manifest.Body!.transformToString(), /"source": "elasticache"/);
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
