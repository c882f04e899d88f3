import test from "ava";
import { parseStackOutputs } from "../../contract/stack-outputs.ts";
import {
  BACKUP_JOB_ENV,
  JOB_OUTPUTS_DIR,
  JOB_OUTPUTS_ENV,
  JOB_RDS_CA_BUNDLE,
  JOB_SCRATCH_DIR,
} from "../../contract/jobs.ts";
import {
  DR_READINESS_SCHEDULE,
  jobCommand,
  kubernetesSchedule,
  type BackupJob,
} from "../../infra/components/backup-jobs.ts";
import { CORE_EXPORT_RESOURCES } from "../../contract/kubernetes-export-scope.ts";
import { committedStacks, evaluateWith, ofType, only, statements } from "../helpers/pulumi-mocks.ts";

const JOBS = {
  "database-dump": { runbook: "backup-database", schedule: "0 2 * * *" },
  "redis-export": { runbook: "backup-redis", schedule: "30 5 * * *" },
  "infrastructure-export": { runbook: "backup-infra", schedule: "0 3 * * *" },
  "code-bundle": { runbook: "backup-code", schedule: "0 4 * * *" },
  "replication-check": { runbook: "check-backup-replication", schedule: "20 * * * *" },
  "dr-readiness": { runbook: "check-dr-readiness", schedule: "17 * * * *" },
} as const;

const podOf = (cronJob: { inputs: any }) => cronJob.inputs.spec.jobTemplate.spec.template.spec;
const envOf = (container: { env: { name: string; value: string }[] }) =>
  Object.fromEntries(container.env.map((e) => [e.name, e.value]));

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

test("a job runs its runbook under node, with outputs from the mounted file and journals in scratch", (t) => {
  const job: BackupJob = { id: "x", runbook: "backup-code", description: "", schedule: "", args: ["--skip-images"] };
  t.deepEqual(jobCommand(job), [
    "node",
    "runbooks/backup-code.ts",
    "--outputs",
    `${JOB_OUTPUTS_DIR}/outputs.json`,
    "--state-dir",
    `${JOB_SCRATCH_DIR}/runs`,
    "--yes",
    "--skip-images",
  ]);
});

test("prod runs every job of the plan as a CronJob on its configured schedule, in UTC, never overlapping", async (t) => {
  const { prod } = await committedStacks();
  const cronJobs = ofType(prod, "kubernetes:batch/v1:CronJob");
  t.deepEqual(
    Object.fromEntries(cronJobs.map((j) => [j.inputs.metadata.name, j.inputs.spec.schedule])),
    Object.fromEntries(Object.entries(JOBS).map(([id, j]) => [`eventchain-${id}`, j.schedule])),
  );
  for (const j of cronJobs) {
    const spec = j.inputs.spec;
    t.is(spec.timeZone, "Etc/UTC");
    t.is(spec.concurrencyPolicy, "Forbid");
    const pod = podOf(j);
    const container = pod.containers[0];
    const env = envOf(container);
    const id = env[BACKUP_JOB_ENV] as keyof typeof JOBS;
    t.is(j.inputs.metadata.name, `eventchain-${id}`, "the job names itself for its metrics");
    t.deepEqual(container.command.slice(0, 7), [
      "node",
      `runbooks/${JOBS[id].runbook}.ts`,
      "--outputs",
      `${JOB_OUTPUTS_DIR}/outputs.json`,
      "--state-dir",
      `${JOB_SCRATCH_DIR}/runs`,
      "--yes",
    ]);
    t.false(container.command.includes("--stack"), "no Pulumi CLI or state access in the cluster");
    t.is(env.PGSSLROOTCERT, JOB_RDS_CA_BUNDLE, "the database is reached over verified TLS");
    t.is(pod.serviceAccountName, "eventchain-backup");
    t.true(pod.securityContext.runAsNonRoot);
    t.like(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    t.false(JSON.stringify(container.env).includes("AWS_SECRET_ACCESS_KEY"), "no static keys");
    const mounts = Object.fromEntries(
      container.volumeMounts.map((m: { name: string; mountPath: string; readOnly?: boolean }) => [m.mountPath, m]),
    );
    t.like(mounts[JOB_OUTPUTS_DIR], { name: "outputs", readOnly: true });
    t.like(mounts[JOB_SCRATCH_DIR], { name: "scratch" });
    t.not(mounts[JOB_SCRATCH_DIR].readOnly, true, "the scratch volume is the one writable place");
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    t.is(volumes.outputs.configMap.name, "eventchain-backup-outputs");
    t.deepEqual(volumes.scratch, { name: "scratch", emptyDir: { sizeLimit: "20Gi" } });
    t.is(pod.automountServiceAccountToken, id === "infrastructure-export", "only the export talks to the API");
  }
  t.deepEqual([...prod.outputs.kubernetes.cronJobs].sort(), cronJobs.map((j) => j.inputs.metadata.name).sort());
  t.true(prod.outputs.kubernetes.enabled);
});

test("the jobs' ConfigMap holds exactly the stack's outputs, valid against the contract", async (t) => {
  const { prod } = await committedStacks();
  const map = only(prod, "kubernetes:core/v1:ConfigMap").inputs;
  t.deepEqual(Object.keys(map.data), ["outputs.json"]);
  t.deepEqual(parseStackOutputs(JSON.parse(map.data["outputs.json"]), "ConfigMap"), prod.outputs);
});

test("the jobs' service account is bound to an IAM role through IRSA, and the outputs name that role", async (t) => {
  const { prod } = await committedStacks();
  const sa = only(prod, "kubernetes:core/v1:ServiceAccount").inputs;
  const role = only(prod, "aws:iam/role:Role", "kubernetes-jobs-irsa");
  t.is(sa.metadata.annotations["eks.amazonaws.com/role-arn"], prod.outputs.kubernetes.serviceAccountRoleArn);
  t.is(prod.outputs.kubernetes.serviceAccountRoleArn, `arn:aws:iam::111122223333:role/${role.inputs.name}`);
  const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement[0];
  const issuer = prod.config.kubernetes.oidcIssuer;
  t.deepEqual(trust.Principal, { Federated: prod.config.kubernetes.oidcProviderArn });
  t.deepEqual(trust.Action, ["sts:AssumeRoleWithWebIdentity"]);
  t.deepEqual(trust.Condition.StringEquals, {
    [`${issuer}:sub`]: "system:serviceaccount:eventchain:eventchain-backup",
    [`${issuer}:aud`]: "sts.amazonaws.com",
  });
});

test("the export's role reads its scope only: no Secrets, no wildcard group, nothing written", async (t) => {
  const { prod } = await committedStacks();
  const rules = only(prod, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs.rules as any[];
  t.deepEqual([...new Set(rules.flatMap((r) => r.verbs))].sort(), ["get", "list"]);
  const core = rules.find((r) => r.apiGroups?.includes(""));
  t.deepEqual(core.resources, [...CORE_EXPORT_RESOURCES]);
  t.false(core.resources.includes("secrets"));
  t.false(
    rules.some((r) => r.apiGroups?.includes("*")),
    "a wildcard group would include the core group's Secrets",
  );
  const infra = ofType(prod, "kubernetes:batch/v1:CronJob").find(
    (j) => j.inputs.metadata.name === "eventchain-infrastructure-export",
  )!;
  t.false(podOf(infra).containers[0].command.includes("--kubernetes-secrets"));
});

test("with the export of Secrets enabled, the role may read them and the export is told to", async (t) => {
  const committed = (await committedStacks()).prod.config.kubernetes;
  const evaluation = await evaluateWith("prod", {
    "eventchain-dr:kubernetes": {
      ...committed,
      exportSecrets: true,
      exportApiGroups: ["apps", "ticketing.eventchain.io"],
    },
  });
  const rules = only(evaluation, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs.rules as any[];
  t.true(rules.find((r) => r.apiGroups?.includes("")).resources.includes("secrets"));
  t.deepEqual(rules.find((r) => r.apiGroups?.includes("apps")).apiGroups, ["apps", "ticketing.eventchain.io"]);
  const infra = ofType(evaluation, "kubernetes:batch/v1:CronJob").find(
    (j) => j.inputs.metadata.name === "eventchain-infrastructure-export",
  )!;
  const command: string[] = podOf(infra).containers[0].command;
  t.true(command.includes("--kubernetes-secrets"));
  t.is(command[command.indexOf("--kubernetes-api-groups") + 1], "apps,ticketing.eventchain.io");
});

test("the app-config directories reach the export read-only from EFS, in Kubernetes", async (t) => {
  const { prod } = await committedStacks();
  const pvs = ofType(prod, "kubernetes:core/v1:PersistentVolume").map((p) => p.inputs.spec);
  t.deepEqual(
    pvs.map((s) => s.csi.volumeHandle),
    ["fs-0e1c0a5e00000a041:/etc/eventchain", "fs-0e1c0a5e00000a041:/opt/eventchain/configs"],
  );
  for (const s of pvs) t.like(s, { accessModes: ["ReadOnlyMany"], csi: { driver: "efs.csi.aws.com", readOnly: true } });
  const infra = ofType(prod, "kubernetes:batch/v1:CronJob").find(
    (j) => j.inputs.metadata.name === "eventchain-infrastructure-export",
  )!;
  const container = podOf(infra).containers[0];
  const command: string[] = container.command;
  t.is(command[command.indexOf("--config-dir") + 1], "/etc/eventchain,/opt/eventchain/configs");
  for (const dir of ["/etc/eventchain", "/opt/eventchain/configs"])
    t.true(container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === dir).readOnly);
});

test("without Kubernetes, EventBridge Scheduler runs every job on ECS with the same command line", async (t) => {
  const { prod } = await committedStacks();
  const evaluation = await evaluateWith("prod", {
    "eventchain-dr:kubernetes": { ...prod.config.kubernetes, enabled: false },
  });
  t.is(ofType(evaluation, "kubernetes:batch/v1:CronJob").length, 0);
  t.false(evaluation.outputs.kubernetes.enabled);
  const cron = Object.fromEntries(
    ofType(prod, "kubernetes:batch/v1:CronJob").map((j) => [
      j.inputs.metadata.labels.job,
      podOf(j).containers[0].command,
    ]),
  );
  const schedules = ofType(evaluation, "aws:scheduler/schedule:Schedule");
  t.deepEqual(
    schedules.map((s) => s.name).sort(),
    Object.keys(JOBS)
      .map((id) => `logical-backups-${id}`)
      .sort(),
  );
  const expressions = { ...prod.config.schedules };
  const byJob: Record<string, string> = {
    "database-dump": expressions.logicalBackup,
    "redis-export": expressions.redisExport,
    "infrastructure-export": expressions.infrastructureExport,
    "code-bundle": expressions.codeBackup,
    "replication-check": expressions.replicationCheck,
    "dr-readiness": DR_READINESS_SCHEDULE,
  };
  for (const s of schedules) {
    const id = s.name.replace("logical-backups-", "");
    t.is(s.inputs.scheduleExpression, byJob[id], "one definition of each schedule for both runners");
    t.is(s.inputs.scheduleExpressionTimezone, "Etc/UTC");
    t.is(s.inputs.target.arn, "arn:aws:ecs:us-east-1:111122223333:cluster/eventchain-prod");
    t.false(s.inputs.target.ecsParameters.networkConfiguration.assignPublicIp);
    const task = only(evaluation, "aws:ecs/taskDefinition:TaskDefinition", `logical-backups-${id}`);
    const [init, job] = JSON.parse(task.inputs.containerDefinitions);
    t.deepEqual(job.command, cron[id], `${id}: the same command line as its CronJob`);
    t.like(job, { readonlyRootFilesystem: true, user: "10001", essential: true });
    t.deepEqual(job.dependsOn, [{ containerName: "outputs", condition: "SUCCESS" }]);
    t.is(envOf({ env: job.environment })[BACKUP_JOB_ENV], id);
    t.is(envOf({ env: job.environment }).PGSSLROOTCERT, JOB_RDS_CA_BUNDLE);
    t.deepEqual(init.command, ["node", "runbooks/platform/job-outputs.ts"]);
    t.like(init, { readonlyRootFilesystem: true, essential: false });
    const outputs = parseStackOutputs(JSON.parse(envOf({ env: init.environment })[JOB_OUTPUTS_ENV]!), "init");
    t.deepEqual(outputs, evaluation.outputs, "the task carries the stack's own outputs");
    const mounts = Object.fromEntries(job.mountPoints.map((m: any) => [m.containerPath, m.readOnly]));
    t.is(mounts[JOB_OUTPUTS_DIR], true);
    t.is(mounts[JOB_SCRATCH_DIR], false);
  }
  const infra = only(evaluation, "aws:ecs/taskDefinition:TaskDefinition", "logical-backups-infrastructure-export");
  t.deepEqual(
    infra.inputs.volumes.filter((v: any) => v.efsVolumeConfiguration).map((v: any) => v.efsVolumeConfiguration),
    ["/etc/eventchain", "/opt/eventchain/configs"].map((rootDirectory) => ({
      fileSystemId: "fs-0e1c0a5e00000a041",
      rootDirectory,
      transitEncryption: "ENABLED",
      authorizationConfig: { iam: "ENABLED" },
    })),
  );
  const mount = statements(evaluation).find((s) => s.Action.includes("elasticfilesystem:ClientMount"))!;
  t.deepEqual(mount.Action, ["elasticfilesystem:ClientMount"], "read-only: no ClientWrite, no ClientRootAccess");
  const rules = ofType(evaluation, "aws:cloudwatch/eventRule:EventRule").map((r) => JSON.parse(r.inputs.eventPattern));
  const ecs = rules.filter((p) => p.source[0] === "aws.ecs");
  t.is(ecs.length, 2);
  t.deepEqual(ecs[0].detail.containers, { name: ["backup"], exitCode: [{ "anything-but": 0 }] });
  t.deepEqual(ecs[1].detail.stopCode, ["TaskFailedToStart"]);
});

test("the backup key decrypts for the jobs only through S3, and their secrets only through Secrets Manager", async (t) => {
  const { prod } = await committedStacks();
  const job = statements(prod).filter((s) => s.resource.name === "kubernetes-jobs-irsa-policy");
  const decrypts = job.filter((s) => s.Action.includes("kms:Decrypt"));
  t.deepEqual(
    decrypts.map((s) => s.Condition?.StringEquals?.["kms:ViaService"]),
    // The last: check-dr-readiness reads the outputs mirror in the DR region, through S3 there.
    ["s3.us-east-1.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com", "s3.us-west-2.amazonaws.com"],
  );
  t.deepEqual(decrypts[0]!.Resource, [prod.outputs.backup.kmsKeyArn]);
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
