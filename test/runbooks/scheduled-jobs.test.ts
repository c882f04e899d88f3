/**
 * The scheduled backup jobs exactly as the stack renders them: every Kubernetes resource of the
 * jobs validated against the Kubernetes schema, and each CronJob's command line run end to end
 * under plain `node`, from the files the image copies (Dockerfile COPY lines, production
 * dependencies only), against throwaway PostgreSQL and Redis and moto, with the outputs read
 * from a directory laid out as the kubelet mounts a ConfigMap.
 *
 * What the test maps, as a container runtime would: the container's mount paths (the outputs
 * ConfigMap, the scratch volume, the EFS app-config directories) to temp directories; the
 * endpoints (AWS_ENDPOINT_URL to a proxy in front of moto, the in-cluster API server to a fake
 * over HTTPS, the repository URL through git's `insteadOf`). And the opt-outs of a local
 * emulation: PGSSLMODE=disable instead of the RDS CA bundle, REDISCLI_AUTH for the local Redis.
 * Where moto lacks a call, a recorded response shaped like AWS's answers it (ElastiCache's
 * export to S3, and the replicated automated backups in the DR region, which moto does not keep).
 */
import test from "ava";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CloudWatchClient, GetMetricStatisticsCommand } from "@aws-sdk/client-cloudwatch";
import { CreateRepositoryCommand, ECRClient } from "@aws-sdk/client-ecr";
import { CreateReplicationGroupCommand, ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { $ } from "zx";
import { type StackOutputs } from "../../contract/stack-outputs.ts";
import {
  BACKUP_JOB_ENV,
  JOB_OUTPUTS_DIR,
  JOB_OUTPUTS_KEY,
  JOB_SCRATCH_DIR,
  JOB_SUCCESS_METRIC,
} from "../../contract/jobs.ts";
import type { EvaluatedResource } from "../../infra/offline/evaluate.ts";
import { getJson } from "../../runbooks/aws/s3-object.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { seedStacks, PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { readinessRecorded } from "../helpers/dr-readiness.ts";
import { startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { startRedis, type LocalRedis } from "../../runbooks/redis/test-restore-server.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { parseDockerfile } from "../helpers/dockerfile.ts";
import { startFaultProxy, fixture, type FaultProxy } from "../helpers/fault-proxy.ts";
import { fakeKube, inClusterKube } from "../helpers/fake-kube.ts";
import "../helpers/moto.ts";
import { startMoto, type MotoServer } from "../../rehearsal/stand-ins/moto.ts";
import { committedStacks, evaluateWith, ofType } from "../helpers/pulumi-mocks.ts";
import { seededDatabase } from "../helpers/postgres.ts";
import { seedRedis } from "../helpers/redis.ts";
import { topicInbox, type TopicInbox } from "../helpers/topic-inbox.ts";

let motoServer: MotoServer | undefined;
const moto = () => motoServer!;
const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);
const REPLICATED = "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-6kf5qwrb2kz3xtu4lxmgqaeu3a";

interface World {
  dir: string;
  image: string;
  pg: LocalPostgres;
  redis: LocalRedis;
  proxy: FaultProxy;
  outputs: StackOutputs;
  cronJobs: EvaluatedResource[];
  k8sResources: EvaluatedResource[];
  mounts: Record<string, string>;
  inbox: TopicInbox;
  repoSecretArn: string;
}
let world: World | undefined;
const w = () => {
  if (!world) throw new Error("the world is not set up");
  return world;
};

/** The image's file tree: the Dockerfile's COPY sources, and node_modules with production packages only. */
function imageTree(into: string): string {
  const app = join(into, "app");
  mkdirSync(join(app, "node_modules"), { recursive: true });
  for (const copy of parseDockerfile(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8")).filter(
    (i) => i.instruction === "COPY" && !i.args.startsWith("--from"),
  )) {
    for (const source of copy.args.split(" ").slice(0, -1))
      cpSync(join(REPO_ROOT, source), join(app, source), { recursive: true });
  }
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || meta.dev || path.slice(13).includes("/node_modules/")) continue;
    mkdirSync(dirname(join(app, path)), { recursive: true });
    symlinkSync(join(REPO_ROOT, path), join(app, path));
  }
  return app;
}

/** A ConfigMap volume as the kubelet lays it out: a timestamped directory, `..data` and one symlink per key. */
function configMapMount(dir: string, data: Record<string, string>): void {
  const stamp = `..${new Date().toISOString().replace(/[-:T]/g, "_").replace("Z", "")}`;
  mkdirSync(join(dir, stamp), { recursive: true });
  for (const [key, value] of Object.entries(data)) writeFileSync(join(dir, stamp, key), value, { mode: 0o444 });
  symlinkSync(stamp, join(dir, "..data"));
  for (const key of Object.keys(data)) symlinkSync(join("..data", key), join(dir, key));
}

/** Maps container paths in an argument (also inside comma lists) to where they are mounted here. */
function mapped(arg: string, mounts: Record<string, string>): string {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  return arg
    .split(",")
    .map((part) => {
      const p = prefixes.find((x) => part === x || part.startsWith(`${x}/`));
      return p ? mounts[p] + part.slice(p.length) : part;
    })
    .join(",");
}

async function run(command: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number | null; out: string }>((done) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => done({ code, out }));
  });
}

async function heartbeats(job: string): Promise<number> {
  const cw = new CloudWatchClient({ endpoint: moto().endpoint, region: PRIMARY_REGION, maxAttempts: 1 });
  const now = Date.now();
  const r = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: JOB_SUCCESS_METRIC.namespace,
      MetricName: JOB_SUCCESS_METRIC.metricName,
      Dimensions: [
        { Name: "Job", Value: job },
        { Name: "Stack", Value: "prod" },
      ],
      StartTime: new Date(now - 3_600_000),
      EndTime: new Date(now + 60_000),
      Period: 60,
      Statistics: ["Sum"],
    }),
  );
  return (r.Datapoints ?? []).reduce((s, d) => s + (d.Sum ?? 0), 0);
}

// Long on purpose: one seeding of everything the scheduled jobs read, shared by every test below.
test.before(async () => {
  motoServer = await startMoto();
  const endpoint = moto().endpoint;
  const dir = mkdtempSync(join(tmpdir(), "scheduled-jobs-"));
  const seeded = await seedStacks(endpoint);
  const cfg = { region: PRIMARY_REGION, endpoint, maxAttempts: 1 };
  const s3 = new BackupS3Client(cfg);
  const pg = await startPostgres();
  await seededDatabase(pg, "eventchain", 0.05);
  const redis = await startRedis();
  const rc = await redis.client();
  await seedRedis(rc, 150);
  rc.disconnect();
  // The stack's resources as the jobs meet them in moto.
  const sm = new SecretsManagerClient(cfg);
  const conn = pg.connection("eventchain");
  const master = await sm.send(
    new CreateSecretCommand({
      Name: `rds-master-${process.pid}`,
      SecretString: JSON.stringify({ username: conn.user, password: conn.password }),
    }),
  );
  const token = await sm.send(
    new CreateSecretCommand({ Name: `github-read-token-${process.pid}`, SecretString: "ghs_notused" }),
  );
  const prodConfig = (await committedStacks()).prod.config;
  for (const bucket of [seeded.prod.backup.bucketName, prodConfig.logicalBackups.pulumiStateBucket!])
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const stack of ["prod", "dr"])
    await s3.send(
      new PutObjectCommand({
        Bucket: prodConfig.logicalBackups.pulumiStateBucket!,
        Key: `.pulumi/stacks/eventchain-dr/${stack}.json`,
        Body: JSON.stringify({
          version: 3,
          checkpoint: {
            stack: `organization/eventchain-dr/${stack}`,
            latest: { resources: [{ urn: `urn:${stack}:a` }, { urn: `urn:${stack}:b` }] },
          },
        }),
      }),
    );
  await new ElastiCacheClient(cfg).send(
    new CreateReplicationGroupCommand({
      ReplicationGroupId: prodConfig.cache.replicationGroupId,
      ReplicationGroupDescription: "EventChain cache and sessions",
      Engine: "redis",
      CacheNodeType: "cache.t4g.small",
      NumCacheClusters: 2,
    }),
  );
  for (const repositoryName of seeded.prod.ecrRepositories)
    await new ECRClient(cfg).send(new CreateRepositoryCommand({ repositoryName }));
  // What ElastiCache and RDS do that moto does not (recorded responses, see the file comment).
  const rdb = join(dir, "source.rdb");
  await $({
    quiet: true,
    env: { ...process.env, ...redis.env() },
  })`${redis.redisCli} -h 127.0.0.1 -p ${redis.port} --no-auth-warning --rdb ${rdb}`;
  // check-dr-readiness's AWS Backup and automatic-snapshot calls (test/helpers/dr-readiness.ts).
  const readiness = readinessRecorded(
    { copyAgeMinutes: 60, snapshotAgeMinutes: 600, restoreTest: null, reported: [] },
    seeded.prod,
    seeded.dr,
  );
  const proxy = await startFaultProxy(endpoint, (req) => {
    if (req.service === "backup" || (req.service === "elasticache" && req.action === "DescribeSnapshots"))
      return readiness(req);
    if (req.service === "elasticache" && req.action === "CopySnapshot") {
      const p = new URLSearchParams(req.body);
      void s3.send(
        new PutObjectCommand({
          Bucket: p.get("TargetBucket")!,
          Key: `${p.get("TargetSnapshotName")}-0001.rdb`,
          Body: readFileSync(rdb),
        }),
      );
      return {
        status: 200,
        body: fixture("elasticache-copy-snapshot-export.xml")
          .replaceAll("{{TargetSnapshotName}}", p.get("TargetSnapshotName")!)
          .replaceAll("{{ReplicationGroupId}}", prodConfig.cache.replicationGroupId),
      };
    }
    if (req.service === "rds" && req.region === "us-west-2" && req.action === "DescribeDBInstanceAutomatedBackups")
      return {
        status: 200,
        body: fixture("rds-describe-db-instance-automated-backups-replicated.xml").replace(
          /<LatestTime>[^<]+<\/LatestTime>/,
          `<LatestTime>${new Date(Date.now() - 3 * 60_000).toISOString()}</LatestTime>`,
        ),
      };
    return undefined;
  });
  // The CronJobs as the stack renders them, with this emulation's secret for the repository token.
  const rendered = await evaluateWith("prod", {
    "eventchain-dr:logicalBackups": {
      ...prodConfig.logicalBackups,
      codeRepository: { ...prodConfig.logicalBackups.codeRepository!, tokenSecretArn: token.ARN! },
    },
  });
  const outputs: StackOutputs = {
    ...seeded.prod,
    database: {
      ...seeded.prod.database,
      address: "127.0.0.1",
      port: pg.port,
      dbName: "eventchain",
      masterSecretArn: master.ARN!,
      replicatedBackupsArn: REPLICATED,
    },
    cache: {
      ...seeded.prod.cache,
      replicationGroupId: prodConfig.cache.replicationGroupId,
      primaryEndpoint: `127.0.0.1:${redis.port}`,
      transitEncryption: false,
    },
    kubernetes: rendered.outputs.kubernetes,
  };
  const mounts: Record<string, string> = {
    [JOB_OUTPUTS_DIR]: join(dir, "mounts", "outputs"),
    [JOB_SCRATCH_DIR]: join(dir, "mounts", "scratch"),
  };
  configMapMount(mounts[JOB_OUTPUTS_DIR]!, { [JOB_OUTPUTS_KEY]: JSON.stringify(outputs, null, 2) });
  mkdirSync(mounts[JOB_SCRATCH_DIR]!, { recursive: true });
  for (const [n, d] of prodConfig.logicalBackups.appConfigDirs.entries()) {
    mounts[d] = join(dir, "mounts", `app-config-${n}`);
    mkdirSync(mounts[d]!, { recursive: true });
    writeFileSync(join(mounts[d]!, "app.env"), `FEATURE_${n}=on\n`);
  }
  world = {
    dir,
    image: imageTree(dir),
    pg,
    redis,
    proxy,
    outputs,
    cronJobs: ofType(rendered, "kubernetes:batch/v1:CronJob"),
    k8sResources: rendered.resources.filter((r) => r.type.startsWith("kubernetes:")),
    mounts,
    inbox: await topicInbox(endpoint, seeded.prod.alerts.topicArn),
    repoSecretArn: token.ARN!,
  };
});

test.after.always(async () => {
  await world?.proxy.close();
  await world?.pg.destroy();
  await world?.redis.destroy();
  if (world) rmSync(world.dir, { recursive: true, force: true });
  await motoServer?.stop();
});

/** Runs the CronJob of `job` as its container would, and returns the run's exit code and output. */
async function runJob(t: import("ava").ExecutionContext, job: string, extraEnv: Record<string, string> = {}) {
  const cronJob = w().cronJobs.find((j) => j.inputs.metadata.labels["eventchain.io/backup-job"] === job)!;
  const container = cronJob.inputs.spec.jobTemplate.spec.template.spec.containers[0];
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    AWS_ENDPOINT_URL: w().proxy.endpoint,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_EC2_METADATA_DISABLED: "true",
    PGSSLMODE: "disable",
    ...extraEnv,
  };
  for (const e of container.env as { name: string; value: string }[]) {
    if (e.name === "PGSSLROOTCERT") continue; // the image's RDS CA bundle; PGSSLMODE=disable here
    env[e.name] = mapped(e.value, w().mounts);
  }
  t.is(env[BACKUP_JOB_ENV], job);
  const command = (container.command as string[]).map((a) => mapped(a, w().mounts));
  const r = await run(command, env, w().image);
  t.log(`$ ${container.command.join(" ")}\n${r.out.split("\n").slice(-6).join("\n")}`);
  return r;
}

test.serial("every Kubernetes resource of the jobs is valid against the Kubernetes schema", async (t) => {
  t.true(w().cronJobs.length >= 5);
  for (const r of w().k8sResources) {
    const [, groupVersion, kind] = r.type.split(":") as [string, string, string];
    const [group, version] = groupVersion.split("/") as [string, string];
    const apiVersion = group === "core" ? version : `${group}/${version}`;
    const path = group === "core" ? `v1/${kind}` : `${group}/${version}/${kind}`;
    const Model = (await import(`kubernetes-models/${path}`))[kind] as new (d: unknown) => { validate(): void };
    t.notThrows(() => new Model({ apiVersion, kind, ...r.inputs }).validate(), `${r.type} ${r.name}`);
  }
  const { CronJob } = await import("kubernetes-models/batch/v1/CronJob");
  const broken = structuredClone(w().cronJobs[0]!.inputs);
  broken.spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = "yes";
  t.throws(() => new CronJob(broken as ConstructorParameters<typeof CronJob>[0]).validate(), {
    message: /readOnlyRootFilesystem must be boolean/,
  });
});

test.serial("database-dump: the job dumps the database, verifies it and records its heartbeat", async (t) => {
  const r = await runJob(t, "database-dump");
  t.is(r.code, 0, r.out);
  t.is(await heartbeats("database-dump"), 1);
  const s3 = new BackupS3Client({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
  const keys = (
    await s3.send(new ListObjectsV2Command({ Bucket: w().outputs.backup.bucketName, Prefix: "database/" }))
  ).Contents!.map((o) => o.Key!);
  t.true(keys.some((k) => k.endsWith("/eventchain.dump")));
  t.true(keys.some((k) => k.endsWith("/manifest.json")));
});

test.serial(
  "redis-export: the export is checked with redis-check-rdb, restored and its key count matched",
  async (t) => {
    const r = await runJob(t, "redis-export", { REDISCLI_AUTH: w().redis.password });
    t.is(r.code, 0, r.out);
    t.is(await heartbeats("redis-export"), 1);
    const s3 = new BackupS3Client({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
    const key = (await s3.send(new ListObjectsV2Command({ Bucket: w().outputs.backup.bucketName, Prefix: "redis/" })))
      .Contents!.map((o) => o.Key!)
      .find((k) => k.endsWith("/verification.json"))!;
    const v = await getJson<{
      ok: boolean;
      restoredKeys: number;
      sourceKeys: { before: number };
      objects: { checkRdb: string }[];
    }>(s3, w().outputs.backup.bucketName, key);
    t.true(v.ok);
    t.is(v.restoredKeys, v.sourceKeys.before);
    t.true(v.restoredKeys > 300);
    t.deepEqual(
      v.objects.map((o) => o.checkRdb),
      ["RDB looks OK"],
    );
  },
);

test.serial(
  "infrastructure-export: state from the backend bucket, the API in-cluster within scope, the app-config archive",
  async (t) => {
    const kube = await fakeKube(t);
    const cluster = await inClusterKube(t, kube.url);
    const r = await runJob(t, "infrastructure-export", {
      ...cluster.env,
      KUBERNETES_SERVICEACCOUNT_DIR: cluster.serviceAccountDir,
    });
    t.is(r.code, 0, r.out);
    t.is(cluster.rejected(), 0, "every request carried the service-account token");
    t.false(
      kube.requests.some((p) => p.startsWith("/api/v1/secrets")),
      "Secrets are outside the scope",
    );
    t.is(await heartbeats("infrastructure-export"), 1);
    const s3 = new BackupS3Client({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
    const manifestKey = (
      await s3.send(new ListObjectsV2Command({ Bucket: w().outputs.backup.bucketName, Prefix: "infrastructure/" }))
    )
      .Contents!.map((o) => o.Key!)
      .find((k) => k.endsWith("/manifest.json"))!;
    const m = await getJson<{ objects: { name: string }[]; facts: Record<string, any> }>(
      s3,
      w().outputs.backup.bucketName,
      manifestKey,
    );
    t.deepEqual(
      m.objects.map((o) => o.name),
      ["pulumi-prod.json.gz", "pulumi-dr.json.gz", "kubernetes-resources.json.gz", "config-dirs.tar.gz"],
    );
    t.is(m.facts["pulumi:prod:resources"], 2);
    t.deepEqual(
      [...m.facts.kubernetes.notExported].sort(),
      ["ticketing.eventchain.io/v1/ticketpools", "v1/secrets"],
      "outside the scope: Secrets (not enabled) and a custom group not in kubernetes.exportApiGroups",
    );
    t.is(m.facts.kubernetes.objects["v1/configmaps"], 2);
  },
);

test.serial(
  "code-bundle: the job mirrors the repository with its token, bundles every ref and verifies the clone",
  async (t) => {
    const origin = join(w().dir, "origin.git");
    const work = join(w().dir, "work");
    const git = $({
      quiet: true,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@x",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@x",
      },
    });
    await git`git init --quiet -b main ${work}`;
    writeFileSync(join(work, "README"), "eventchain\n");
    await git`git -C ${work} add .`;
    await git`git -C ${work} commit --quiet -m first`;
    await git`git -C ${work} tag v1`;
    await git`git clone --quiet --bare ${work} ${origin}`;
    const gitconfig = join(w().dir, "gitconfig");
    const url = (await committedStacks()).prod.config.logicalBackups.codeRepository!.url;
    writeFileSync(gitconfig, `[url "file://${origin}"]\n\tinsteadOf = ${url}\n`);
    const r = await runJob(t, "code-bundle", { GIT_CONFIG_GLOBAL: gitconfig });
    t.is(r.code, 0, r.out);
    t.is(await heartbeats("code-bundle"), 1);
    t.false(r.out.includes("ghs_notused"), "the token never reaches the output");
  },
);

test.serial("replication-check: the replicated automated backups in the DR region are within the RPO", async (t) => {
  const r = await runJob(t, "replication-check");
  t.is(r.code, 0, r.out);
  t.is(await heartbeats("replication-check"), 1);
});

test.serial(
  "dr-readiness: the job's command line runs end to end, records the fresh paths' heartbeats and fails naming the drift",
  async (t) => {
    const r = await runJob(t, "dr-readiness");
    // This emulation is not a healthy pair: its outputs are not the mirror's copy, its images are
    // not in ECR, no restore test was validated. Each is a row of the table; the job fails.
    t.is(r.code, 1, r.out);
    t.regex(r.out, /\| outputs-mirror \| /);
    t.regex(r.out, /\| image-missing \| /);
    t.regex(r.out, /\| backup-freshness \| restore-tests \| /);
    t.regex(r.out, /DR is not ready: \d+ difference\(s\)/);
    t.is(await heartbeats("dr-readiness"), 0, "no success recorded for the job itself");
    t.is(await heartbeats("aws-backup-dr-copies"), 1, "the fresh copies' heartbeat, from the job's --publish-metrics");
  },
);

test.serial("no scheduled run published anything to the alert topic", async (t) => {
  t.deepEqual(await w().inbox.subjects(), []);
});

test.serial("on ECS, the init container writes the outputs the job then reads", async (t) => {
  const dir = join(w().dir, "ecs-outputs");
  const r = await run(
    ["node", "runbooks/platform/job-outputs.ts", "--dir", dir],
    { PATH: process.env.PATH!, EVENTCHAIN_OUTPUTS_JSON: JSON.stringify(w().outputs) },
    w().image,
  );
  t.is(r.code, 0, r.out);
  t.deepEqual(JSON.parse(readFileSync(join(dir, JOB_OUTPUTS_KEY), "utf8")), w().outputs);
  const bad = await run(
    ["node", "runbooks/platform/job-outputs.ts", "--dir", join(w().dir, "ecs-bad")],
    { PATH: process.env.PATH!, EVENTCHAIN_OUTPUTS_JSON: JSON.stringify({ ...w().outputs, contractVersion: 99 }) },
    w().image,
  );
  t.is(bad.code, 2);
  t.regex(bad.out, /contractVersion/);
});
