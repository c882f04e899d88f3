import test from "ava";
import { JOB_FAILURE_METRIC, JOB_SUCCESS_METRIC } from "../../contract/jobs.ts";
import { heartbeatPeriodSeconds, VERIFIED_PATHS } from "../../infra/components/heartbeats.ts";
import { heartbeatWindowMinutes, longestGapMinutes } from "../../infra/config/validators.ts";
import type { Evaluation } from "../../infra/offline/evaluate.ts";
import { committedStacks, evaluateWith, ofType } from "../helpers/pulumi-mocks.ts";

const heartbeats = (e: Evaluation): Record<string, any> =>
  Object.fromEntries(
    ofType(e, "aws:cloudwatch/metricAlarm:MetricAlarm")
      .filter((a) => a.inputs.tags?.["eventchain:alarm-kind"] === "heartbeat")
      .map((a) => [a.inputs.tags["eventchain:backup-path"], a.inputs]),
  );
const failures = (e: Evaluation): Record<string, any> =>
  Object.fromEntries(
    ofType(e, "aws:cloudwatch/metricAlarm:MetricAlarm")
      .filter((a) => a.inputs.tags?.["eventchain:alarm-kind"] === "failure")
      .map((a) => [a.inputs.tags["eventchain:backup-path"], a.inputs]),
  );

test("the longest gap of a union of schedules is the union's, and the heartbeat allows 1.5 times it", (t) => {
  t.is(longestGapMinutes(["cron(0 */6 * * ? *)"]), 360);
  t.is(longestGapMinutes(["cron(0 */6 * * ? *)", "cron(0 2 * * ? *)"]), 360);
  t.is(longestGapMinutes(["cron(0 0 * * ? *)", "cron(0 12 * * ? *)"]), 720);
  t.is(longestGapMinutes(["cron(0 2 * * ? *)", "rate(6 hours)"]), 360, "a rate bounds the union by its interval");
  t.is(longestGapMinutes(["cron(0 6 ? * MON *)"]), 31 * 1440, "day restrictions are bounded conservatively");
  t.is(heartbeatWindowMinutes(["cron(0 2 * * ? *)"]), 2160);
  t.is(heartbeatPeriodSeconds(["cron(20 * * * ? *)"]), 5400);
  t.throws(() => longestGapMinutes([]), { message: "longestGapMinutes needs at least one schedule expression" });
});

test("every backup path of prod has a heartbeat alarm: no success within 1.5x its schedule, missing data breaching", async (t) => {
  const { prod } = await committedStacks();
  const alarms = heartbeats(prod);
  t.deepEqual(Object.fromEntries(Object.entries(alarms).map(([path, a]) => [path, a.period])), {
    "aws-backup-jobs": 1.5 * 360 * 60,
    "aws-backup-dr-copies": 1.5 * 60 * 60,
    "elasticache-snapshots": 1.5 * 60 * 60,
    "ecr-replication": 1.5 * 60 * 60,
    "dr-readiness": 1.5 * 60 * 60,
    "database-dump": 1.5 * 1440 * 60,
    "redis-export": 1.5 * 1440 * 60,
    "infrastructure-export": 1.5 * 1440 * 60,
    "code-bundle": 1.5 * 1440 * 60,
    "rds-backup-replication": 1.5 * 60 * 60,
  });
  for (const [path, a] of Object.entries(alarms)) {
    t.like(
      a,
      {
        name: `eventchain-prod-${path}-heartbeat`,
        statistic: "Sum",
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: "LessThanThreshold",
        treatMissingData: "breaching",
      },
      path,
    );
    t.deepEqual(a.alarmActions, [prod.outputs.alerts.topicArn]);
    t.is(a.okActions, undefined, "a recovery is not announced: failures only");
    t.true(a.period * a.evaluationPeriods <= 604_800, "CloudWatch evaluates at most 7 days");
  }
});

test("AWS Backup's own job metric is the plan's heartbeat; its DR copies are verified in the DR vault by check-dr-readiness", async (t) => {
  const { prod } = await committedStacks();
  const alarms = heartbeats(prod);
  t.like(alarms["aws-backup-jobs"], {
    region: "us-east-1",
    namespace: "AWS/Backup",
    metricName: "NumberOfBackupJobsCompleted",
    dimensions: { BackupVaultName: "eventchain-us-east-1" },
  });
  // AWS documents the copy metric's vault (the destination's) but not the Region a cross-Region
  // copy job is counted in: the copies' heartbeat is our own check of the DR vault instead.
  t.like(alarms["aws-backup-dr-copies"], {
    region: "us-east-1",
    namespace: JOB_SUCCESS_METRIC.namespace,
    metricName: JOB_SUCCESS_METRIC.metricName,
    dimensions: { Job: "aws-backup-dr-copies", Stack: "prod" },
  });
});

test("every heartbeat's metric cites its source and its alarm lives in the region the metric is published in", async (t) => {
  const { prod, dr } = await committedStacks();
  const all = [prod, dr].flatMap((e) =>
    ofType(e, "aws:cloudwatch/metricAlarm:MetricAlarm").filter(
      (a) => a.inputs.tags?.["eventchain:alarm-kind"] === "heartbeat",
    ),
  );
  t.true(all.length >= 11, `${all.length} heartbeats`);
  for (const a of all) {
    const path = a.inputs.tags["eventchain:backup-path"];
    const [publisher, region] = String(a.inputs.tags["eventchain:metric-source"]).split(":");
    t.is(a.inputs.region, region, `${path}: the alarm's region is the metric's`);
    t.is(a.region, region, `${path}: declared with the provider of that region`);
    if (a.inputs.namespace.startsWith("AWS/")) {
      t.is(publisher, "aws", path);
      t.regex(
        a.inputs.alarmDescription,
        /Metric source \(aws, [a-z0-9-]+\): https:\/\/docs\.aws\.amazon\.com\/\S+: namespace AWS\//,
        path,
      );
    } else {
      t.is(publisher, "eventchain", path);
      t.regex(
        a.inputs.alarmDescription,
        /Metric source \(eventchain, [a-z0-9-]+\): contract\/jobs\.ts JOB_SUCCESS_METRIC/,
        path,
      );
    }
  }
});

test("a job's heartbeat watches the metric its runbook records on verified success; its failure alarms at once", async (t) => {
  const { prod } = await committedStacks();
  const fail = failures(prod);
  const verified = new Set(Object.keys(VERIFIED_PATHS));
  for (const [path, a] of Object.entries(heartbeats(prod))) {
    if (path.startsWith("aws-backup") || verified.has(path)) continue;
    const job = path === "rds-backup-replication" ? "replication-check" : path;
    t.like(a, { ...JOB_SUCCESS_METRIC, dimensions: { Job: job, Stack: "prod" } }, path);
    t.like(
      fail[path],
      {
        ...JOB_FAILURE_METRIC,
        dimensions: { Job: job, Stack: "prod" },
        period: 300,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
      },
      path,
    );
    t.deepEqual(fail[path].alarmActions, [prod.outputs.alerts.topicArn]);
  }
  t.deepEqual(Object.keys(fail).sort(), [
    "code-bundle",
    "database-dump",
    "dr-readiness",
    "infrastructure-export",
    "rds-backup-replication",
    "redis-export",
  ]);
});

test("change a schedule in config and its heartbeat alarm follows", async (t) => {
  const { prod } = await committedStacks();
  const changed = await evaluateWith("prod", {
    "eventchain-dr:schedules": {
      ...prod.config.schedules,
      logicalBackup: "cron(0 */12 * * ? *)",
      databaseBackup: "cron(0 * * * ? *)",
      replicationCheck: "cron(5,35 * * * ? *)",
    },
  });
  const alarms = heartbeats(changed);
  t.is(alarms["database-dump"].period, 1.5 * 720 * 60);
  t.is(alarms["aws-backup-jobs"].period, 1.5 * 60 * 60);
  t.is(alarms["rds-backup-replication"].period, 1.5 * 30 * 60);
  t.is(alarms["redis-export"].period, 1.5 * 1440 * 60, "the others keep theirs");
});

test("the same heartbeats watch the jobs when ECS runs them instead of Kubernetes", async (t) => {
  const { prod } = await committedStacks();
  const ecs = await evaluateWith("prod", { "eventchain-dr:kubernetes": { ...prod.config.kubernetes, enabled: false } });
  t.deepEqual(heartbeats(ecs), heartbeats(prod));
  t.deepEqual(failures(ecs), failures(prod));
});

test("without copies to the DR vault there is no copy heartbeat to watch", async (t) => {
  const { prod } = await committedStacks();
  const noCopy = await evaluateWith("prod", { "eventchain-dr:backup": { ...prod.config.backup, copyToPeer: false } });
  t.false("aws-backup-dr-copies" in heartbeats(noCopy));
  t.true("aws-backup-jobs" in heartbeats(noCopy));
});
