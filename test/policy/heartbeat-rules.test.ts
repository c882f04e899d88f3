import test from "ava";
import { policies } from "../../policy/rules.ts";
import { declaredBackupPaths, awsCronOfKubernetes } from "../../infra/posture/backup-paths.ts";
import { committedStacks, evaluateWith } from "../helpers/pulumi-mocks.ts";
import { committedContext, stackViolations, type FakeResource } from "../helpers/policy.ts";
import type { Evaluation } from "../../infra/offline/evaluate.ts";

const prodPack = policies(committedContext("prod"));
const asFake = (e: Evaluation): FakeResource[] =>
  e.resources.filter((r) => r.custom).map((r) => ({ type: r.type, name: r.name, props: { ...r.inputs, id: r.id } }));
const RULE = "backup-paths-have-heartbeats";

const cronJob = (job: string, schedule = "0 2 * * *"): FakeResource => ({
  type: "kubernetes:batch/v1:CronJob",
  name: `k8s-${job}`,
  props: { metadata: { labels: { "eventchain.io/backup-job": job } }, spec: { schedule } },
});
const heartbeat = (path: string, props: Record<string, unknown> = {}): FakeResource => ({
  type: "aws:cloudwatch/metricAlarm:MetricAlarm",
  name: `hb-${path}`,
  props: {
    name: `eventchain-prod-${path}-heartbeat`,
    period: 129600,
    evaluationPeriods: 1,
    treatMissingData: "breaching",
    alarmActions: ["arn:aws:sns:us-east-1:1:alerts"],
    tags: { "eventchain:backup-path": path, "eventchain:alarm-kind": "heartbeat" },
    ...props,
  },
});

test("the committed prod and dr stacks have a heartbeat on every backup path", async (t) => {
  const { prod, dr } = await committedStacks();
  t.deepEqual(await stackViolations(prodPack, RULE, asFake(prod)), []);
  t.deepEqual(await stackViolations(policies(committedContext("dr")), RULE, asFake(dr)), []);
  t.deepEqual(
    declaredBackupPaths(asFake(prod))
      .map((p) => p.id)
      .sort(),
    [
      "aws-backup-dr-copies",
      "aws-backup-jobs",
      "code-bundle",
      "database-dump",
      "dr-readiness",
      "ecr-replication",
      "elasticache-snapshots",
      "infrastructure-export",
      "rds-backup-replication",
      "redis-export",
    ],
  );
  t.deepEqual(
    declaredBackupPaths(asFake(dr)).map((p) => p.id),
    ["restore-tests"],
    "the restore tests of the DR copies are a path of the dr stack, with their heartbeat there",
  );
});

test("a stack whose database dump lost its heartbeat fails, naming the path", async (t) => {
  const { prod } = await committedStacks();
  const weakened = asFake(prod).filter((r) => r.name !== "heartbeats-database-dump");
  t.deepEqual(await stackViolations(prodPack, RULE, weakened), [
    "backup path database-dump (kubernetes:batch/v1:CronJob kubernetes-jobs-database-dump) has no heartbeat alarm: nothing pages when it stops",
  ]);
});

test("the same holds when ECS runs the jobs", async (t) => {
  const { prod } = await committedStacks();
  const ecs = await evaluateWith("prod", { "eventchain-dr:kubernetes": { ...prod.config.kubernetes, enabled: false } });
  t.deepEqual(await stackViolations(prodPack, RULE, asFake(ecs)), []);
  const weakened = asFake(ecs).filter((r) => r.name !== "heartbeats-redis-export");
  t.deepEqual(await stackViolations(prodPack, RULE, weakened), [
    "backup path redis-export (aws:scheduler/schedule:Schedule logical-backups-redis-export) has no heartbeat alarm: nothing pages when it stops",
  ]);
});

test("a plan, its copies and replicated backups without heartbeats fail; a heartbeat that reads no data as healthy fails", async (t) => {
  const plan: FakeResource = {
    type: "aws:backup/plan:Plan",
    name: "prod-plan",
    props: { rules: [{ schedule: "cron(0 */6 * * ? *)", copyActions: [{ destinationVaultArn: "arn:dr" }] }] },
  };
  const replication: FakeResource = {
    type: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    name: "prod-db-backups-to-dr",
    props: {},
  };
  t.deepEqual(await stackViolations(prodPack, RULE, [plan, replication]), [
    "backup path aws-backup-jobs (aws:backup/plan:Plan prod-plan) has no heartbeat alarm: nothing pages when it stops",
    "backup path aws-backup-dr-copies (aws:backup/plan:Plan prod-plan) has no heartbeat alarm: nothing pages when it stops",
    "backup path rds-backup-replication (aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication prod-db-backups-to-dr) has no heartbeat alarm: nothing pages when it stops",
  ]);
  t.deepEqual(
    await stackViolations(prodPack, RULE, [
      cronJob("code-bundle"),
      heartbeat("code-bundle", { treatMissingData: "notBreaching" }),
    ]),
    [
      "heartbeat hb-code-bundle of code-bundle treats missing data as notBreaching: a path that stops reporting reads as healthy; expected breaching",
    ],
  );
});

test("a heartbeat slower than 1.5 times its schedule, or paging no one, fails", async (t) => {
  t.deepEqual(await stackViolations(prodPack, RULE, [cronJob("code-bundle"), heartbeat("code-bundle")]), []);
  t.deepEqual(
    await stackViolations(prodPack, RULE, [cronJob("code-bundle"), heartbeat("code-bundle", { period: 172800 })]),
    [
      "heartbeat hb-code-bundle of code-bundle waits 2880 min; its schedule allows at most 2160 min (1.5 × its longest gap)",
    ],
  );
  t.deepEqual(
    await stackViolations(prodPack, RULE, [cronJob("code-bundle"), heartbeat("code-bundle", { alarmActions: [] })]),
    ["heartbeat hb-code-bundle of code-bundle has no alarm action: it pages no one"],
  );
});

test("Kubernetes schedules read back as the AWS crons they came from", (t) => {
  t.is(awsCronOfKubernetes("0 2 * * *"), "cron(0 2 * * ? *)");
  t.is(awsCronOfKubernetes("0 6 * * 1"), "cron(0 6 ? * 2 *)");
  t.is(awsCronOfKubernetes("bad"), undefined);
});
