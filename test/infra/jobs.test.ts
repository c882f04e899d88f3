import test from "ava";
import { BACKUP_JOB_ENV, JOB_RDS_CA_BUNDLE } from "../../infra/outputs.ts";
import { kubernetesSchedule } from "../../infra/components/backup-jobs.ts";
import { committedStacks, evaluateWith, ofType, only } from "../helpers/pulumi-mocks.ts";

test("EventBridge crons convert to Kubernetes schedules", (t) => {
  t.is(kubernetesSchedule("cron(0 2 * * ? *)"), "0 2 * * *");
  t.is(kubernetesSchedule("cron(30 5 * * ? *)"), "30 5 * * *");
  t.is(kubernetesSchedule("cron(0 6 ? * 2 *)"), "0 6 * * 1");
  t.is(kubernetesSchedule("cron(0 6 ? * MON-FRI *)"), "0 6 * * MON-FRI");
});

test("schedules Kubernetes cannot express are refused by name", (t) => {
  t.throws(() => kubernetesSchedule("rate(6 hours)"), {
    message:
      'schedule "rate(6 hours)" cannot run as a Kubernetes CronJob: not a cron() expression of 6 fields; expected cron(m h dom mon dow *) without L, W or #',
  });
  t.throws(() => kubernetesSchedule("cron(0 2 L * ? *)"), { message: /: L, W or # in a day field;/ });
  t.throws(() => kubernetesSchedule("cron(0 2 * * ? 2027)"), { message: /: a year field other than \*;/ });
});

test("prod runs the three backup CronJobs on the configured schedules, in UTC, never overlapping", async (t) => {
  const { prod } = await committedStacks();
  const jobs: Record<string, any> = Object.fromEntries(
    ofType(prod, "kubernetes:batch/v1:CronJob").map((j) => [j.inputs.metadata.name, j.inputs.spec]),
  );
  t.deepEqual(Object.fromEntries(Object.entries(jobs).map(([name, spec]) => [name, spec.schedule])), {
    "eventchain-database-dump": "0 2 * * *",
    "eventchain-redis-export": "30 5 * * *",
    "eventchain-cluster-config-export": "0 3 * * *",
  });
  for (const [name, spec] of Object.entries(jobs)) {
    t.is(spec.timeZone, "Etc/UTC");
    t.is(spec.concurrencyPolicy, "Forbid");
    const pod = spec.jobTemplate.spec.template.spec;
    t.is(pod.serviceAccountName, "eventchain-backup");
    t.true(pod.securityContext.runAsNonRoot);
    t.false(pod.containers[0].securityContext.allowPrivilegeEscalation);
    t.false(JSON.stringify(pod.containers[0].env).includes("AWS_SECRET_ACCESS_KEY"), "no static keys");
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    t.is(`eventchain-${env[BACKUP_JOB_ENV]}`, name, "the job names itself for its failure metric");
    t.is(env.PGSSLROOTCERT, JOB_RDS_CA_BUNDLE, "the database is reached over verified TLS");
  }
  t.deepEqual(prod.outputs.kubernetes.cronJobs, Object.keys(jobs));
  t.true(prod.outputs.kubernetes.enabled);
  t.is(prod.outputs.kubernetes.appDeployment, "eventchain-backend");
});

test("the jobs' service account is bound to an IAM role through IRSA", async (t) => {
  const { prod } = await committedStacks();
  const sa = only(prod, "kubernetes:core/v1:ServiceAccount").inputs;
  t.is(sa.metadata.annotations["eks.amazonaws.com/role-arn"], prod.outputs.kubernetes.serviceAccountRoleArn);
  const trust = JSON.parse(only(prod, "aws:iam/role:Role", "kubernetes-jobs-irsa").inputs.assumeRolePolicy)
    .Statement[0];
  const issuer = prod.config.kubernetes.oidcIssuer;
  t.deepEqual(trust.Principal, { Federated: prod.config.kubernetes.oidcProviderArn });
  t.deepEqual(trust.Action, ["sts:AssumeRoleWithWebIdentity"]);
  t.deepEqual(trust.Condition.StringEquals, {
    [`${issuer}:sub`]: "system:serviceaccount:eventchain:eventchain-backup",
    [`${issuer}:aud`]: "sts.amazonaws.com",
  });
});

test("the cluster-config export may read every API resource and change none", async (t) => {
  const { prod } = await committedStacks();
  const role = only(prod, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs;
  t.deepEqual(role.rules[0], { apiGroups: ["*"], resources: ["*"], verbs: ["get", "list"] });
  t.deepEqual([...new Set(role.rules.flatMap((r: any) => r.verbs))].sort(), ["get", "list"]);
});

test("each Kubernetes job's failure alarms, and only its failure", async (t) => {
  const { prod } = await committedStacks();
  const alarms = ofType(prod, "aws:cloudwatch/metricAlarm:MetricAlarm").filter(
    (a) => a.inputs.namespace === "EventChain/Backups",
  );
  t.deepEqual(alarms.map((a) => a.inputs.dimensions.Job).sort(), [
    "cluster-config-export",
    "database-dump",
    "redis-export",
  ]);
  for (const a of alarms) {
    t.like(a.inputs, {
      metricName: "JobFailed",
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    });
    t.is(a.inputs.okActions, undefined);
  }
});

test("without Kubernetes, EventBridge Scheduler runs the backup task on ECS and failed tasks alert", async (t) => {
  const evaluation = await evaluateWith("prod", { "eventchain-dr:kubernetes": { enabled: false } });
  t.is(ofType(evaluation, "kubernetes:batch/v1:CronJob").length, 0);
  t.false(evaluation.outputs.kubernetes.enabled);
  const schedules = Object.fromEntries(
    ofType(evaluation, "aws:scheduler/schedule:Schedule").map((s) => [s.name, s.inputs]),
  );
  t.deepEqual(Object.keys(schedules).sort(), ["logical-backups-database-dump", "logical-backups-redis-export"]);
  t.is(schedules["logical-backups-database-dump"].scheduleExpression, "cron(0 2 * * ? *)");
  t.is(schedules["logical-backups-redis-export"].scheduleExpression, "cron(30 5 * * ? *)");
  const target = schedules["logical-backups-database-dump"].target;
  t.is(target.arn, "arn:aws:ecs:us-east-1:111122223333:cluster/eventchain-prod");
  t.false(target.ecsParameters.networkConfiguration.assignPublicIp);
  t.deepEqual(JSON.parse(target.input).containerOverrides[0].command, [
    "npx",
    "tsx",
    "runbooks/backup-database.ts",
    "--stack",
    "prod",
    "--yes",
  ]);
  const container = JSON.parse(
    only(evaluation, "aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions,
  )[0];
  t.deepEqual(
    container.environment.find((e: { name: string }) => e.name === "PGSSLROOTCERT"),
    { name: "PGSSLROOTCERT", value: JOB_RDS_CA_BUNDLE },
  );
  const rules = ofType(evaluation, "aws:cloudwatch/eventRule:EventRule").map((r) => JSON.parse(r.inputs.eventPattern));
  const ecs = rules.filter((p) => p.source[0] === "aws.ecs");
  t.is(ecs.length, 2);
  t.deepEqual(ecs[0].detail.containers, { exitCode: [{ "anything-but": 0 }] });
  t.deepEqual(ecs[1].detail.stopCode, ["TaskFailedToStart"]);
});

test("failed, aborted or expired backup, copy and restore jobs alert; successes do not", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const patterns = ofType(evaluation, "aws:cloudwatch/eventRule:EventRule")
      .map((r) => JSON.parse(r.inputs.eventPattern))
      .filter((p) => p.source[0] === "aws.backup");
    t.deepEqual(patterns.map((p) => p["detail-type"][0]).sort(), [
      "Backup Job State Change",
      "Copy Job State Change",
      "Restore Job State Change",
    ]);
    for (const p of patterns) t.deepEqual(p.detail.state, ["FAILED", "ABORTED", "EXPIRED"]);
    const targets = ofType(evaluation, "aws:cloudwatch/eventTarget:EventTarget");
    t.true(targets.length >= 3);
    for (const target of targets) t.is(target.inputs.arn, evaluation.outputs.alerts.topicArn);
  }
});

test("the alert topic is encrypted and has the configured subscriptions", async (t) => {
  const { prod } = await committedStacks();
  t.regex(only(prod, "aws:sns/topic:Topic").inputs.kmsMasterKeyId, /^arn:aws:kms:us-east-1:/);
  t.deepEqual(
    ofType(prod, "aws:sns/topicSubscription:TopicSubscription").map((s) => [s.inputs.protocol, s.inputs.endpoint]),
    [["email", "sre-oncall@eventchain.com"]],
  );
});
