import test from "ava";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import {
  backupRedis,
  keyspaceCounts,
  parseInfo,
  restoreRedisToNewServer,
  snapshotKeys,
} from "../../runbooks/redis/export.ts";
import { BackupS3Client, verifyObject } from "../../runbooks/aws/s3-object.ts";
import { useMoto } from "../helpers/moto.ts";
import { redisFor, seedRedis } from "../helpers/redis.ts";

const moto = useMoto(test);

test("a Redis backup restores the same keys, types and values into a new server", async (t) => {
  const source = await redisFor(t);
  const client = await source.client();
  t.teardown(() => client.disconnect());
  await seedRedis(client);
  const before = await snapshotKeys(client);
  t.true(before.length > 400);

  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `redis-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const manifest = await backupRedis({
    source: { host: "127.0.0.1", port: source.port, password: source.password, redisCli: source.redisCli },
    client,
    s3,
    bucket,
    prefix: "redis/",
  });
  t.is(manifest.facts.totalKeys, before.length);
  t.is(manifest.objects.length, 1);
  const object = manifest.objects[0]!;
  t.true((await verifyObject(s3, { bucket, ...object })).ok);
  t.false(JSON.stringify(manifest).includes(source.password), "the password must not reach the manifest");

  const restored = await restoreRedisToNewServer({ s3, bucket, key: object.key });
  t.teardown(() => restored.destroy());
  const rc = await restored.client();
  t.teardown(() => rc.disconnect());
  t.deepEqual(await snapshotKeys(rc), before);
  t.true((await rc.ttl("session:1")) > 0, "TTLs survive the backup");
});

test("INFO parsing keeps key counts and drops file and host fields", (t) => {
  const info =
    "# Server\r\nredis_version:7.0.15\r\nexecutable:/usr/bin/redis-server\r\nconfig_file:/tmp/x/redis.conf\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb2:keys=10,expires=0,avg_ttl=0\r\n";
  t.deepEqual(keyspaceCounts(info), { db0: 3, db2: 10 });
  const parsed = parseInfo(info);
  t.is(parsed.server!.redis_version, "7.0.15");
  t.false("executable" in parsed.server!);
  t.false("config_file" in parsed.server!);
});
