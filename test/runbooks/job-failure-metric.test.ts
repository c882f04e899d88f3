import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { $ } from "zx";
import { BACKUP_JOB_ENV, JOB_FAILURE_METRIC, JOB_SUCCESS_METRIC } from "../../contract/jobs.ts";
import { backupJobSinks, jobOutcomeSinks } from "../../runbooks/aws/alert-topic-sinks.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { runbook as backupCode } from "../../runbooks/backup-code.ts";
import { PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { committedStacks, only } from "../helpers/pulumi-mocks.ts";
import { clientsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { topicInbox } from "../helpers/topic-inbox.ts";

const { moto, seeded } = useSeededMoto(test);

async function datapoints(metricName: string, job: string): Promise<number> {
  const cw = new CloudWatchClient({ endpoint: moto().endpoint, region: PRIMARY_REGION, maxAttempts: 1 });
  const now = Date.now();
  const stats = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: JOB_FAILURE_METRIC.namespace,
      MetricName: metricName,
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
  return (stats.Datapoints ?? []).reduce((sum, d) => sum + (d.Sum ?? 0), 0);
}

function gitRepo(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "job-outcome-repo-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "README"), "eventchain\n");
  return dir;
}

async function commit(dir: string) {
  const git = $({
    cwd: dir,
    quiet: true,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@x",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@x",
    },
  });
  await git`git init --quiet -b main`;
  await git`git add .`;
  await git`git commit --quiet -m first`;
}

/** Runs backup-code the way a scheduled job does (BACKUP_JOB set) or an operator does (unset). */
async function runBackupCode(t: ExecutionContext, job: string | undefined, bucket: boolean) {
  const ws = workspace(t);
  const outputs = seeded().prod;
  if (bucket)
    await new BackupS3Client({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 }).send(
      new CreateBucketCommand({ Bucket: outputs.backup.bucketName }),
    );
  const repo = gitRepo(t);
  await commit(repo);
  const saved = process.env[BACKUP_JOB_ENV];
  if (job) process.env[BACKUP_JOB_ENV] = job;
  else delete process.env[BACKUP_JOB_ENV];
  try {
    return await runRunbook(
      backupCode,
      ["--outputs", ws.writeOutputs(outputs), "--state-dir", ws.stateDir, "--repo", repo, "--skip-images"],
      { aws: { endpoint: moto().endpoint, maxAttempts: 1 }, sinks: backupJobSinks },
    );
  } finally {
    if (saved === undefined) delete process.env[BACKUP_JOB_ENV];
    else process.env[BACKUP_JOB_ENV] = saved;
  }
}

test.serial(
  "a scheduled run's verified success records a heartbeat and publishes nothing to the alert topic",
  async (t) => {
    const inbox = await topicInbox(moto().endpoint, seeded().prod.alerts.topicArn);
    const r = await runBackupCode(t, "code-bundle", true);
    t.is(r.exitCode, 0, r.stderr + r.message);
    t.is(await datapoints(JOB_SUCCESS_METRIC.metricName, "code-bundle"), 1);
    t.is(await datapoints(JOB_FAILURE_METRIC.metricName, "code-bundle"), 0);
    t.deepEqual(await inbox.subjects(), [], "no start or success message reaches the alert topic");
  },
);

test.serial(
  "a scheduled run that fails publishes JobFailed (its alarm pages) and nothing to the topic directly",
  async (t) => {
    const inbox = await topicInbox(moto().endpoint, seeded().prod.alerts.topicArn);
    const r = await runBackupCode(t, "code-bundle", false);
    t.is(r.exitCode, 1, r.message);
    t.is(await datapoints(JOB_FAILURE_METRIC.metricName, "code-bundle"), 1);
    t.is(await datapoints(JOB_SUCCESS_METRIC.metricName, "code-bundle"), 0, "no heartbeat for a failed run");
    t.deepEqual(await inbox.subjects(), []);
  },
);

test.serial("an operator's successful run pages no one and records no job metric", async (t) => {
  const inbox = await topicInbox(moto().endpoint, seeded().prod.alerts.topicArn);
  t.is((await runBackupCode(t, undefined, true)).exitCode, 0);
  t.deepEqual(await inbox.subjects(), []);
  const cw = new CloudWatchClient({ endpoint: moto().endpoint, region: PRIMARY_REGION, maxAttempts: 1 });
  t.deepEqual((await cw.send(new ListMetricsCommand({ Namespace: JOB_FAILURE_METRIC.namespace }))).Metrics ?? [], []);
});

test.serial("an operator's failed run tells the alert topic, once", async (t) => {
  const inbox = await topicInbox(moto().endpoint, seeded().prod.alerts.topicArn);
  t.is((await runBackupCode(t, undefined, false)).exitCode, 1);
  const subjects = await inbox.subjects();
  t.is(subjects.length, 1);
  t.regex(subjects[0]!, /^\[eventchain-dr\] backup-code failed on prod/);
});

test.serial(
  "a job that dies before the engine starts leaves its heartbeat absent, which its alarm reads as breaching",
  async (t) => {
    const ws = workspace(t);
    const saved = process.env[BACKUP_JOB_ENV];
    process.env[BACKUP_JOB_ENV] = "code-bundle";
    t.teardown(() => {
      if (saved === undefined) delete process.env[BACKUP_JOB_ENV];
      else process.env[BACKUP_JOB_ENV] = saved;
    });
    // The mounted outputs are missing (a ConfigMap not mounted, a broken init container).
    const r = await runRunbook(backupCode, ["--outputs", join(ws.dir, "missing.json"), "--state-dir", ws.stateDir], {
      aws: { endpoint: moto().endpoint, maxAttempts: 1 },
      sinks: backupJobSinks,
    });
    t.is(r.exitCode, 2);
    t.is(await datapoints(JOB_SUCCESS_METRIC.metricName, "code-bundle"), 0);
    t.is(await datapoints(JOB_FAILURE_METRIC.metricName, "code-bundle"), 0, "not even a failure is reported");
    // The stack's heartbeat alarm for this job watches exactly that metric and counts no data as breaching.
    const { prod } = await committedStacks();
    const alarm = only(prod, "aws:cloudwatch/metricAlarm:MetricAlarm", "heartbeats-code-bundle").inputs;
    t.like(alarm, {
      namespace: JOB_SUCCESS_METRIC.namespace,
      metricName: JOB_SUCCESS_METRIC.metricName,
      dimensions: { Job: "code-bundle", Stack: "prod" },
      statistic: "Sum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
      evaluationPeriods: 1,
    });
  },
);

test.serial("outside a scheduled job no metric sink is added", (t) => {
  t.deepEqual(
    jobOutcomeSinks({ region: PRIMARY_REGION, stack: "prod" } as never, clientsFor("http://127.0.0.1:9"), {}),
    [],
  );
});
