/**
 * The drill's throwaway servers on loopback — PostgreSQL (the primary), Redis and the S3
 * emulator — the emulator's bucket, and the local stack outputs the runbooks read. Also the
 * environments the runbooks run with: built here, explicitly, from what these servers are.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { objectiveFromOutputs } from "../../runbooks/lib/tracker.ts";
import type { SystemObjective } from "../../contract/objectives.ts";
import { startMoto, type MotoServer } from "../stand-ins/moto.ts";
import { localOutputs } from "../stand-ins/local-outputs.ts";
import { startPostgres } from "../stand-ins/postgres.ts";
import { startRedis, type LocalRedis } from "../../runbooks/redis/test-restore-server.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import type { Cleanups } from "./phase.ts";
import { childEnvironment } from "./runbook-process.ts";

/** The emulator accepts any key; these exist only in the drill's child processes, for it. */
const EMULATOR_CREDENTIALS = { accessKeyId: "drill-emulator", secretAccessKey: "drill-emulator" };

export interface DrillServers {
  pg: LocalPostgres;
  redis: LocalRedis;
  moto: MotoServer;
  bucket: string;
  outputs: StackOutputs;
  outputsFile: string;
  objective: SystemObjective;
}

export async function startServers(o: { runDir: string; cleanups: Cleanups; stack?: string }): Promise<DrillServers> {
  // Side by side; whatever started is stopped at the end even when another one failed.
  const [pgR, redisR, motoR] = await Promise.allSettled([
    startPostgres({ prefix: "eventchain-drill-pg-", settings: { track_commit_timestamp: "on" } }),
    startRedis({ prefix: "eventchain-drill-redis-" }),
    startMoto(),
  ]);
  if (motoR.status === "fulfilled") o.cleanups.add("S3 emulator", () => motoR.value.stop());
  if (redisR.status === "fulfilled") o.cleanups.add("Redis", () => redisR.value.destroy());
  if (pgR.status === "fulfilled") o.cleanups.add("PostgreSQL (source)", () => pgR.value.destroy());
  const failed = [pgR, redisR, motoR].find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [pg, redis, moto] = [
    (pgR as PromiseFulfilledResult<LocalPostgres>).value,
    (redisR as PromiseFulfilledResult<LocalRedis>).value,
    (motoR as PromiseFulfilledResult<MotoServer>).value,
  ];
  const bucket = `eventchain-drill-${randomBytes(4).toString("hex")}`;
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto.endpoint, credentials: EMULATOR_CREDENTIALS });
  const sns = new SNSClient({ region: "us-east-1", endpoint: moto.endpoint, credentials: EMULATOR_CREDENTIALS });
  let topicArn: string | undefined;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // The runbooks notify the stack's alert topic; here, the emulator's.
    topicArn = (await sns.send(new CreateTopicCommand({ Name: "eventchain-drill-alerts" }))).TopicArn;
  } finally {
    s3.destroy();
    sns.destroy();
  }
  const local = localOutputs({
    ...(o.stack ? { stack: o.stack } : {}),
    instanceIdentifier: "drill-primary",
    dbName: "eventchain",
    port: pg.port,
    bucketName: bucket,
  });
  const outputs: StackOutputs = topicArn ? { ...local, alerts: { ...local.alerts, topicArn } } : local;
  const outputsFile = join(o.runDir, "outputs.json");
  writeFileSync(outputsFile, JSON.stringify(outputs, null, 2), { mode: 0o600 });
  return {
    pg,
    redis,
    moto,
    bucket,
    outputs,
    outputsFile,
    objective: objectiveFromOutputs("primary-database", outputs),
  };
}

/** The environment every runbook of the drill runs with: the emulator, one attempt per call. */
export function awsEnvironment(s: Pick<DrillServers, "moto">): Record<string, string> {
  return childEnvironment(process.env, {
    AWS_ENDPOINT_URL: s.moto.endpoint,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "1",
  });
}

/** `--connection env` to a server: the libpq variables, for that child only. */
export function libpqEnvironment(
  s: Pick<DrillServers, "moto">,
  c: { host: string; port: number; user: string; password?: string; database: string },
): Record<string, string> {
  return {
    ...awsEnvironment(s),
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    ...(c.password ? { PGPASSWORD: c.password } : {}),
  };
}
