import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JOB_OUTPUTS_DIR, JOB_OUTPUTS_ENV, JOB_SCRATCH_DIR } from "../../contract/jobs.ts";
import type { Alerts } from "./alerts.ts";
import {
  BACKUP_JOB_TAG,
  jobCommand,
  jobEnvironment,
  jobStatements,
  type BackupJob,
  type JobPermissionsArgs,
} from "./backup-jobs.ts";
import { policyJson, serviceRole, serviceTrust } from "./iam.ts";

export interface LogicalBackupsArgs extends JobPermissionsArgs {
  /** Jobs to schedule: every job of the plan. */
  jobs: BackupJob[];
  stack: string;
  /** Existing ECS cluster the tasks run in. */
  clusterName: string;
  /** Image of the backup jobs: ECR repository (this region) and tag. */
  repository: string;
  imageTag: string;
  cpu: number;
  memoryMiB: number;
  subnetIds: pulumi.Input<string>[];
  /** Security group of the tasks (a client of the database and the cache). */
  securityGroupId: pulumi.Input<string>;
  /** The stack's outputs as JSON (`contract/stack-outputs.ts` shape), handed to every task as a read-only file. */
  outputsJson: pulumi.Input<string>;
  /** Where failed tasks are reported. */
  alerts: Alerts;
}

/** The job's container and the init container that writes the outputs file for it. */
export const JOB_CONTAINER = "backup";
export const OUTPUTS_CONTAINER = "outputs";
/** What the init container runs: validates the outputs and writes them where the job reads them. */
export const OUTPUTS_COMMAND = ["node", "runbooks/platform/job-outputs.ts"];

/**
 * The backup jobs as EventBridge Scheduler schedules that run a Fargate task in the primary
 * region (the plan's Lambda → ECS RunTask, without the Lambda): the same jobs, schedules and
 * command lines as the Kubernetes CronJobs. Root filesystem read-only; an init container writes
 * the stack outputs into a task volume the job mounts read-only; one scratch volume for
 * temporary files, journals and reports; the app-config directories from EFS, read-only, over
 * TLS with IAM authorization. The task role can only write and verify backups, read the
 * database credentials, export Redis snapshots and report outcomes. A task that stops with a
 * non-zero exit code, or fails to start, alerts at once.
 */
export class LogicalBackups extends pulumi.ComponentResource {
  readonly taskDefinitions: Record<string, aws.ecs.TaskDefinition> = {};
  readonly schedules: aws.scheduler.Schedule[];
  readonly taskRole: aws.iam.Role;
  readonly family: string;

  // Long on purpose: it declares the component's resources in order, one block each, all with { parent: this }.
  constructor(name: string, args: LogicalBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:LogicalBackups", name, {}, opts);
    const parent = { parent: this };
    this.family = `eventchain-logical-backup-${args.stack}`;
    const clusterArn = pulumi.interpolate`arn:aws:ecs:${args.region}:${args.accountId}:cluster/${args.clusterName}`;
    this.taskRole = serviceRole(`${name}-task`, "ecs-tasks.amazonaws.com", args.accountId, jobStatements(args), parent);
    const executionRole = serviceRole(`${name}-execution`, "ecs-tasks.amazonaws.com", args.accountId, [], parent, [
      "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    ]);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 90 }, parent);
    const image = pulumi.interpolate`${args.accountId}.dkr.ecr.${args.region}.amazonaws.com/${args.repository}:${args.imageTag}`;
    const logConfiguration = {
      logDriver: "awslogs",
      options: { "awslogs-group": logs.name, "awslogs-region": args.region, "awslogs-stream-prefix": "backup" },
    };
    const familyArn = pulumi.interpolate`arn:aws:ecs:${args.region}:${args.accountId}:task-definition/${this.family}-*:*`;
    // One task definition per job: each carries exactly its own mounts, environment and command.
    for (const job of args.jobs) {
      const dirs = job.appConfig?.directories ?? [];
      this.taskDefinitions[job.id] = new aws.ecs.TaskDefinition(
        `${name}-${job.id}`,
        {
          family: `${this.family}-${job.id}`,
          requiresCompatibilities: ["FARGATE"],
          networkMode: "awsvpc",
          cpu: String(args.cpu),
          memory: String(args.memoryMiB),
          taskRoleArn: this.taskRole.arn,
          executionRoleArn: executionRole.arn,
          ephemeralStorage: { sizeInGib: 50 },
          tags: { [BACKUP_JOB_TAG]: job.id },
          volumes: [
            { name: "outputs" },
            { name: "scratch" },
            ...dirs.map((dir, n) => ({
              name: `app-config-${n}`,
              efsVolumeConfiguration: {
                fileSystemId: job.appConfig!.fileSystemId,
                rootDirectory: dir,
                transitEncryption: "ENABLED",
                authorizationConfig: { iam: "ENABLED" },
              },
            })),
          ],
          containerDefinitions: pulumi.jsonStringify([
            {
              name: OUTPUTS_CONTAINER,
              image,
              essential: false,
              user: "10001",
              readonlyRootFilesystem: true,
              command: OUTPUTS_COMMAND,
              environment: [{ name: JOB_OUTPUTS_ENV, value: args.outputsJson }],
              mountPoints: [{ sourceVolume: "outputs", containerPath: JOB_OUTPUTS_DIR, readOnly: false }],
              logConfiguration,
            },
            {
              name: JOB_CONTAINER,
              image,
              essential: true,
              user: "10001",
              readonlyRootFilesystem: true,
              command: jobCommand(job),
              environment: jobEnvironment(job, args.region),
              dependsOn: [{ containerName: OUTPUTS_CONTAINER, condition: "SUCCESS" }],
              mountPoints: [
                { sourceVolume: "outputs", containerPath: JOB_OUTPUTS_DIR, readOnly: true },
                { sourceVolume: "scratch", containerPath: JOB_SCRATCH_DIR, readOnly: false },
                ...dirs.map((dir, n) => ({ sourceVolume: `app-config-${n}`, containerPath: dir, readOnly: true })),
              ],
              logConfiguration,
            },
          ]),
        },
        parent,
      );
    }
    const schedulerRole = new aws.iam.Role(
      `${name}-scheduler`,
      { assumeRolePolicy: serviceTrust("scheduler.amazonaws.com", args.accountId) },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-scheduler-policy`,
      {
        role: schedulerRole.id,
        policy: policyJson([
          {
            Sid: "RunBackupTask",
            Effect: "Allow",
            Action: ["ecs:RunTask"],
            Resource: [familyArn],
            Condition: { ArnEquals: { "ecs:cluster": clusterArn } },
          },
          {
            Sid: "PassTaskRoles",
            Effect: "Allow",
            Action: ["iam:PassRole"],
            Resource: [this.taskRole.arn, executionRole.arn],
            Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
          },
        ]),
      },
      parent,
    );
    this.schedules = args.jobs.map(
      (job) =>
        new aws.scheduler.Schedule(
          `${name}-${job.id}`,
          {
            description: `Backup job ${job.id}: ${job.description} (runbooks/${job.runbook}.ts)`,
            scheduleExpression: job.schedule,
            scheduleExpressionTimezone: "Etc/UTC",
            flexibleTimeWindow: { mode: "OFF" },
            state: "ENABLED",
            target: {
              arn: clusterArn,
              roleArn: schedulerRole.arn,
              retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
              ecsParameters: {
                taskDefinitionArn: this.taskDefinitions[job.id].arn,
                launchType: "FARGATE",
                group: `family:${this.family}`,
                tags: { [BACKUP_JOB_TAG]: job.id },
                networkConfiguration: {
                  subnets: args.subnetIds,
                  securityGroups: [args.securityGroupId],
                  assignPublicIp: false,
                },
              },
            },
          },
          parent,
        ),
    );
    const stopped = { source: ["aws.ecs"], "detail-type": ["ECS Task State Change"] };
    args.alerts.forward(`${name}-task-failed`, "A backup-job task exited non-zero", {
      ...stopped,
      detail: {
        group: [`family:${this.family}`],
        lastStatus: ["STOPPED"],
        containers: { name: [JOB_CONTAINER], exitCode: [{ "anything-but": 0 }] },
      },
    });
    args.alerts.forward(`${name}-task-not-started`, "A backup-job task failed to start", {
      ...stopped,
      detail: { group: [`family:${this.family}`], lastStatus: ["STOPPED"], stopCode: ["TaskFailedToStart"] },
    });
    this.registerOutputs({ family: this.family });
  }
}
