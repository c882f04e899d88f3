import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JOB_RDS_CA_BUNDLE } from "../outputs.ts";
import type { Alerts } from "./alerts.ts";
import { jobCommand, type BackupJob, type JobPermissionsArgs, jobStatements } from "./backup-jobs.ts";
import { policyJson, serviceRole, serviceTrust } from "./iam.ts";

export interface LogicalBackupsArgs extends JobPermissionsArgs {
  /** Jobs to schedule (Kubernetes-only jobs are skipped). */
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
  /** Where failed tasks are reported. */
  alerts: Alerts;
}

const CONTAINER = "backup";

/**
 * The logical-backup jobs as EventBridge Scheduler schedules that run a Fargate task (the
 * plan's Lambda → ECS RunTask, without the Lambda). Each task runs one runbook with a task role
 * that can only write backups, read the database credentials and export Redis snapshots. A task
 * that stops with a non-zero exit code, or fails to start, alerts.
 */
export class LogicalBackups extends pulumi.ComponentResource {
  readonly taskDefinition: aws.ecs.TaskDefinition;
  readonly schedules: aws.scheduler.Schedule[];
  readonly taskRole: aws.iam.Role;
  readonly family: string;

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
    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task-definition`,
      {
        family: this.family,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: String(args.cpu),
        memory: String(args.memoryMiB),
        taskRoleArn: this.taskRole.arn,
        executionRoleArn: executionRole.arn,
        ephemeralStorage: { sizeInGib: 50 },
        containerDefinitions: pulumi.jsonStringify([
          {
            name: CONTAINER,
            image: pulumi.interpolate`${args.accountId}.dkr.ecr.${args.region}.amazonaws.com/${args.repository}:${args.imageTag}`,
            essential: true,
            readonlyRootFilesystem: false,
            environment: [
              { name: "AWS_REGION", value: args.region },
              { name: "PGSSLROOTCERT", value: JOB_RDS_CA_BUNDLE },
            ],
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": logs.name, "awslogs-region": args.region, "awslogs-stream-prefix": "backup" },
            },
          },
        ]),
      },
      parent,
    );
    const familyArn = pulumi.interpolate`arn:aws:ecs:${args.region}:${args.accountId}:task-definition/${this.family}:*`;
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
    this.schedules = args.jobs
      .filter((job) => !job.kubernetesOnly)
      .map(
        (job) =>
          new aws.scheduler.Schedule(
            `${name}-${job.id}`,
            {
              description: `Logical backup: ${job.id} (${job.runbook})`,
              scheduleExpression: job.schedule,
              scheduleExpressionTimezone: "Etc/UTC",
              flexibleTimeWindow: { mode: "OFF" },
              target: {
                arn: clusterArn,
                roleArn: schedulerRole.arn,
                retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
                ecsParameters: {
                  taskDefinitionArn: this.taskDefinition.arn,
                  launchType: "FARGATE",
                  group: `family:${this.family}`,
                  networkConfiguration: {
                    subnets: args.subnetIds,
                    securityGroups: [args.securityGroupId],
                    assignPublicIp: false,
                  },
                },
                input: JSON.stringify({
                  containerOverrides: [{ name: CONTAINER, command: jobCommand(job, args.stack) }],
                }),
              },
            },
            parent,
          ),
      );
    const stopped = { source: ["aws.ecs"], "detail-type": ["ECS Task State Change"] };
    args.alerts.forward(`${name}-task-failed`, "A logical-backup task exited non-zero", {
      ...stopped,
      detail: {
        group: [`family:${this.family}`],
        lastStatus: ["STOPPED"],
        containers: { exitCode: [{ "anything-but": 0 }] },
      },
    });
    args.alerts.forward(`${name}-task-not-started`, "A logical-backup task failed to start", {
      ...stopped,
      detail: { group: [`family:${this.family}`], lastStatus: ["STOPPED"], stopCode: ["TaskFailedToStart"] },
    });
    this.registerOutputs({ family: this.family });
  }
}
